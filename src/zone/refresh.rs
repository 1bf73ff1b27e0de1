//! The refresh handler (DESIGN §2 steps 1–5): SOA check, then IXFR or AXFR
//! from the zone's primaries, validated by the transfer core, committed to the
//! store atomically. Any failure leaves the previous version serving and says
//! in `last_error` what went wrong and with which primary.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;

use super::engine::Attempt;
use super::serve::NextView;
use super::stats::{TransferOutcome, TransferType};
use super::Engine;
use crate::model::LastTransfer;
use crate::store::zonedata::{self, Committed, Diff, DiffError};
use crate::store::zones::{self, LinkedPrimary, Zone, ZoneStatus};
use crate::store::{Store, StoreError};
use crate::view::ViewBuilder;
use crate::wire::serial::Serial;
use crate::wire::{rtype, Name};
use crate::xfr::client::{self, Summary};
use crate::xfr::interpret::{Outcome, Request, Update};
use crate::xfr::XfrError;

/// Records per store transaction while loading a full zone.
const STORE_BATCH: usize = 8192;

/// A small load of at least this many records has its duplicates dropped on
/// a blocking thread: a hash per record, a few milliseconds at tens of
/// thousands, which a runtime thread that also answers queries must not spend.
const DEDUPE_INLINE_MAX: usize = 2048;

/// How a refresh ended, for the engine's timer planning.
pub(super) enum Refreshed {
    /// The zone is current (transferred, or found up to date).
    Ok(Current),
    /// Every primary failed; the message is in the store.
    Failed,
    /// The zone was deleted meanwhile.
    Gone,
}

/// A successful refresh.
#[derive(Debug, Clone, Default)]
pub(crate) struct Current {
    /// A transfer's commit and total times (ms), for its summary.
    pub times: Option<(u64, u64)>,
    /// The primary's remaining expire time (RFC 7314), when it gave one.
    pub edns_expire: Option<u32>,
    /// The zone's name and status as its transfer's commit recorded them,
    /// with the attempt and the next timers ([`Attempt::record`]); `None`
    /// when they are still to be written.
    pub recorded: Option<Box<(String, ZoneStatus)>>,
}

/// Why one primary could not refresh the zone.
enum Failure {
    Xfr(XfrError),
    Store(StoreError),
    Diff(String),
    Other(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Xfr(e) => write!(f, "{e}"),
            Failure::Store(e) => write!(f, "{e}"),
            Failure::Diff(e) => f.write_str(e),
            Failure::Other(e) => f.write_str(e),
        }
    }
}

fn label(p: &LinkedPrimary) -> String {
    format!("{} ({})", p.name, addr_text(p))
}

/// A primary whose serial is behind ours (or not comparable with it, RFC 1982
/// §3.2): asking it refreshes nothing.
fn behind(zone: &Zone, p: &LinkedPrimary, ours: u32, theirs: u32) -> Failure {
    let how = if Serial(theirs) < Serial(ours) { "older than" } else { "not comparable with" };
    Failure::Other(format!(
        "primary {} has serial {theirs} for zone `{}`, {how} ours ({ours}); it does not count as a refresh and the \
         copy stays at {ours}",
        label(p),
        zone.name
    ))
}

fn addr_text(p: &LinkedPrimary) -> String {
    match p.ip.parse::<IpAddr>() {
        Ok(IpAddr::V6(ip)) => format!("[{ip}]:{}", p.port),
        _ => format!("{}:{}", p.ip, p.port),
    }
}

/// One refresh attempt of `zone_id`; `attempt.notice` is the NOTIFY that
/// asked for it. The attempt itself (count, time, the NOTIFY) is written with
/// the timers when it ends: by the commit of a small zone's transfer, in its
/// transaction, else by `Engine::after_refresh`; so that nothing but one read
/// stands between a NOTIFY and the transfer.
pub(super) async fn run(engine: &Engine, zone_id: i64, force_axfr: bool, attempt: &Attempt) -> Refreshed {
    let notice = attempt.notice;
    // On the reading connection: at 10,000 zones loading at once, the writer
    // has enough to do.
    // A zone's first refresh also reads its NS settings there, for the
    // publication of its first version (one round trip, not two).
    let settings = engine.cached_settings(zone_id).is_none().then(|| engine.settings_epoch());
    let loaded = engine
        .store
        .read(move |c| {
            let zone = zones::by_id(c, zone_id)?;
            let ns = match settings {
                Some(_) => Some(crate::store::nameservers::zone_ns(c, zone_id)?),
                None => None,
            };
            Ok((zone, ns))
        })
        .await;
    let zone = match loaded {
        Ok((z, ns)) => {
            if let (Some(epoch), Some(ns)) = (settings, ns) {
                engine.cache_settings(zone_id, epoch, ns.as_ref());
            }
            z
        }
        Err(StoreError::NotFound { .. }) => return Refreshed::Gone,
        Err(e) => {
            tracing::error!(zone_id, error = %e, "cannot read the zone from the store");
            return Refreshed::Failed;
        }
    };
    let origin = match Name::from_ascii(&zone.name) {
        Ok(n) => n,
        Err(e) => return fail(engine, &zone, None, format!("zone name `{}` is not a DNS name: {e}", zone.name)).await,
    };
    if zone.primaries.is_empty() {
        return fail(engine, &zone, None, "the zone has no primary servers linked".into()).await;
    }
    // Link order, starting with the last primary that worked (DESIGN §2 step 1).
    let mut order = zone.primaries.clone();
    if let Some(last) = &zone.status.last_primary {
        if let Some(i) = order.iter().position(|p| &label(p) == last) {
            order.rotate_left(i);
        }
    }
    // A NOTIFY's sender goes first: it is the one known to have the new serial.
    let mut announced = notice.and_then(|n| n.serial.map(|s| (s, n.from.ip())));
    if let Some((_, from)) = announced {
        if let Some(i) = order.iter().position(|p| p.ip.parse::<IpAddr>().is_ok_and(|ip| ip == from)) {
            order[..=i].rotate_right(1);
        }
    }
    let mut errors = Vec::new();
    for p in &order {
        let hint = announced.take().map(|(serial, _)| serial);
        match refresh_from(engine, &zone, &origin, p, force_axfr, hint, attempt).await {
            Ok(current) => return Refreshed::Ok(current),
            Err(e) => {
                tracing::warn!(zone = %zone.name, primary = %label(p), error = %e, "refresh from primary failed");
                // Every sentence names its primary, so a zone with several reads clearly.
                let text = e.to_string();
                let text = if text.contains(&addr_text(p)) { text } else { format!("{}: {text}", label(p)) };
                errors.push((label(p), text));
            }
        }
    }
    let message = errors.iter().map(|(_, e)| e.as_str()).collect::<Vec<_>>().join("; ");
    let primary = errors.last().map(|(p, _)| p.clone());
    fail(engine, &zone, primary, message).await
}

async fn fail(engine: &Engine, zone: &Zone, primary: Option<String>, message: String) -> Refreshed {
    tracing::warn!(zone = %zone.name, primary = primary.as_deref().unwrap_or("-"), error = %message, "refresh failed; the previous version stays");
    let id = zone.id;
    let (who, text) = (primary.clone(), message.clone());
    let r = engine.store.call(move |c| zonedata::record_failure(c, id, who.as_deref(), &text)).await;
    match r {
        Err(StoreError::NotFound { .. }) => Refreshed::Gone,
        Err(e) => {
            // A full disk: the failure still shows in the zone's status, from memory.
            tracing::error!(zone = %zone.name, error = %e, "cannot write the refresh failure to the store");
            engine.note_write_error(&e);
            let message = format!("{message}; and the store cannot record it: {e}");
            engine
                .unrecorded
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id, (primary, message, crate::store::now_secs()));
            Refreshed::Failed
        }
        Ok(_) => Refreshed::Failed,
    }
}

async fn refresh_from(
    engine: &Engine,
    zone: &Zone,
    origin: &Name,
    p: &LinkedPrimary,
    force_axfr: bool,
    announced: Option<u32>,
    attempt: &Attempt,
) -> Result<Current, Failure> {
    let addr = engine.primary_addr(p).map_err(Failure::Other)?;
    let key = match &p.tsig_key {
        Some(name) => Some(engine.key(name).ok_or_else(|| {
            Failure::Other(format!("TSIG key `{name}` of primary `{}` is not in the daemon's config", p.name))
        })?),
        None => None,
    };
    let ours = zone.status.serial;
    let expired = zone.status.expired;
    let mut request = match ours {
        Some(serial) if !force_axfr && !expired => Request::Ixfr { current_serial: serial },
        _ => Request::Axfr,
    };
    // A NOTIFY that announced a newer serial stands in for the SOA query.
    let announced = announced.filter(|n| ours.is_some_and(|o| Serial(*n).is_newer_than(Serial(o))));
    let mut soa_expire = None;
    if let (Some(serial), false, None) = (ours, force_axfr, announced) {
        engine.soa_turn().await;
        let soa = client::query_soa(addr, origin, key.as_ref(), engine.config().transfer.soa_timeout)
            .await
            .map_err(Failure::Xfr)?;
        soa_expire = soa.edns_expire;
        let newer = Serial(soa.serial).is_newer_than(Serial(serial));
        // An expired zone takes any other serial, even an older one (the
        // primary may have been rebuilt); a serving zone only a newer one.
        let wanted = newer || (expired && soa.serial != serial);
        if !wanted {
            // Only the same serial refreshes the timers (as BIND); an older
            // one is this primary's failure.
            if soa.serial != serial {
                return Err(behind(zone, p, serial, soa.serial));
            }
            let (id, who) = (zone.id, label(p));
            engine
                .store
                .call(move |c| zonedata::record_up_to_date(c, id, &who, soa.serial))
                .await
                .map_err(Failure::Store)?;
            tracing::info!(zone = %zone.name, primary = %label(p), serial, primary_serial = soa.serial, "zone is up to date");
            return Ok(Current { edns_expire: soa.edns_expire, ..Current::default() });
        }
        if !newer {
            // Expired, and the primary went back in time: only a full copy will do.
            request = Request::Axfr;
        }
    }

    // Only a forced retransfer, an expired zone or a first copy may take a
    // version that does not move the serial forward (a rollback otherwise).
    let any_serial = force_axfr || expired || ours.is_none();
    let attempt = Attempt { soa_expire, ..*attempt };
    let first = transfer_once(engine, zone, origin, p, addr, key.as_ref(), request, false, any_serial, &attempt).await;
    match first {
        Ok(TransferEnd::Done(current)) => Ok(current),
        Ok(TransferEnd::NeedAxfr(reason)) => {
            tracing::info!(zone = %zone.name, primary = %label(p), %reason, "falling back from IXFR to AXFR");
            match transfer_once(engine, zone, origin, p, addr, key.as_ref(), Request::Axfr, true, any_serial, &attempt)
                .await?
            {
                TransferEnd::Done(current) => Ok(current),
                TransferEnd::NeedAxfr(reason) => Err(Failure::Other(reason)),
            }
        }
        Err(e) => Err(e),
    }
}

enum TransferEnd {
    Done(Current),
    NeedAxfr(String),
}

/// What the store side of a transfer holds when the stream ends.
enum Loaded {
    Nothing,
    /// A full load small enough to hold in memory: replaced in one transaction.
    Small(Vec<zonedata::Row>),
    /// A large full load, written as it arrives to a table of its own.
    Large {
        version: i64,
        records: u64,
    },
    Diffs(Vec<Diff>),
    /// An IXFR past `transfer.max_ixfr_records`: dropped, AXFR instead.
    TooLarge,
}

/// What the metrics learn of one transfer as it goes: its type (an IXFR
/// answered with the whole zone becomes IXFR→AXFR), and the seconds, bytes
/// and records of one that committed.
struct Seen {
    r#type: TransferType,
    committed: Option<(f64, u64, u64)>,
}

/// One transfer from `p`, counted by type and outcome ([`super::stats`]).
#[allow(clippy::too_many_arguments)]
async fn transfer_once(
    engine: &Engine,
    zone: &Zone,
    origin: &Name,
    p: &LinkedPrimary,
    addr: SocketAddr,
    key: Option<&crate::wire::tsig::TsigKey>,
    request: Request,
    fallback: bool,
    any_serial: bool,
    attempt: &Attempt,
) -> Result<TransferEnd, Failure> {
    let r#type = match (request, fallback) {
        (Request::Axfr, false) => TransferType::Axfr,
        (Request::Axfr, true) => TransferType::IxfrToAxfr,
        (Request::Ixfr { .. }, _) => TransferType::Ixfr,
    };
    let mut seen = Seen { r#type, committed: None };
    let end = transfer(engine, zone, origin, p, addr, key, request, any_serial, attempt, &mut seen).await;
    let outcome = match &end {
        Ok(TransferEnd::Done(Current { times: Some(_), .. })) => TransferOutcome::Ok,
        Ok(TransferEnd::Done(Current { times: None, .. })) => TransferOutcome::UpToDate,
        Ok(TransferEnd::NeedAxfr(_)) => TransferOutcome::Fallback,
        Err(Failure::Xfr(XfrError::Rcode { .. } | XfrError::Tsig { .. })) => TransferOutcome::Refused,
        Err(_) => TransferOutcome::Failed,
    };
    engine.transfer_stats.count(seen.r#type, outcome, seen.committed);
    end
}

#[allow(clippy::too_many_arguments)]
async fn transfer(
    engine: &Engine,
    zone: &Zone,
    origin: &Name,
    p: &LinkedPrimary,
    addr: SocketAddr,
    key: Option<&crate::wire::tsig::TsigKey>,
    request: Request,
    any_serial: bool,
    attempt: &Attempt,
    seen: &mut Seen,
) -> Result<TransferEnd, Failure> {
    let kind = match seen.r#type {
        TransferType::Axfr => "AXFR",
        TransferType::IxfrToAxfr => "IXFR→AXFR",
        TransferType::Ixfr => "IXFR",
    };
    let who = label(p);
    // The primary's slot (transfer.per_primary) is held while the primary
    // streams, not while our writer commits: the next zone's transfer starts
    // meanwhile. Waiting for it gives up the event's place under
    // transfer.concurrency, so a stalling primary holds only its own zones.
    let slot = crate::scheduler::Scheduler::without_slot(engine.primary_slot(addr).acquire_owned()).await;
    tracing::info!(zone = %zone.name, primary = %who, r#type = kind, serial = ?zone.status.serial, "transfer started");
    let started = Instant::now();
    let (tx, rx) = mpsc::channel::<Vec<Update>>(4);
    let max_ixfr = engine.config().transfer.max_ixfr_records;
    let consumer = tokio::spawn(consume(engine.store.clone(), zone.id, origin.clone(), rx, max_ixfr));
    let opts = engine.transfer_options();
    let result = client::transfer(addr, origin, request, key, &opts, tx).await;
    drop(slot);
    let consumed = consumer.await.map_err(|e| Failure::Other(format!("the store task failed: {e}")));
    let (loaded, soa, builder) = match consumed {
        Ok(Ok(v)) => v,
        Ok(Err((e, loaded))) => {
            engine.note_write_error(&e);
            discard(&engine.store, zone.id, loaded).await;
            return Err(Failure::Store(e));
        }
        Err(e) => return Err(e),
    };
    if let Loaded::TooLarge = loaded {
        // The consumer stopped reading, so the client saw a closed channel:
        // that is not the primary's fault.
        return Ok(TransferEnd::NeedAxfr(format!(
            "the IXFR from {} has more than {max_ixfr} changed records (transfer.max_ixfr_records); \
             fetching the whole zone instead",
            label(p)
        )));
    }
    let summary: Summary = match result {
        Ok(s) => s,
        Err(e) => {
            discard(&engine.store, zone.id, loaded).await;
            return Err(Failure::Xfr(e));
        }
    };
    // The primary's remaining expire time (RFC 7314): from the transfer, else
    // from the SOA query before it.
    let edns_expire = summary.edns_expire.or(attempt.soa_expire);
    let kind = match (&summary.outcome, request) {
        (Outcome::Full { .. }, Request::Ixfr { .. }) => {
            seen.r#type = TransferType::IxfrToAxfr;
            "IXFR→AXFR"
        }
        _ => kind,
    };
    let from = zone.status.serial;
    let (to, records) = match &summary.outcome {
        Outcome::UpToDate { serial } => {
            if let Some(ours) = from.filter(|o| o != serial) {
                return Err(behind(zone, p, ours, *serial));
            }
            let (id, who, s) = (zone.id, label(p), *serial);
            engine.store.call(move |c| zonedata::record_up_to_date(c, id, &who, s)).await.map_err(Failure::Store)?;
            tracing::info!(zone = %zone.name, primary = %label(p), serial = s, "IXFR says the zone is up to date");
            return Ok(TransferEnd::Done(Current { edns_expire, ..Current::default() }));
        }
        Outcome::NeedAxfr { reason } => {
            discard(&engine.store, zone.id, loaded).await;
            return Ok(TransferEnd::NeedAxfr(reason.clone()));
        }
        Outcome::Full { serial, records } => (*serial, *records),
        Outcome::Incremental { to, added, deleted, .. } => (*to, added + deleted),
    };
    if let Some(ours) = from.filter(|o| !any_serial && !Serial(to).is_newer_than(Serial(*o))) {
        discard(&engine.store, zone.id, loaded).await;
        return Err(Failure::Other(format!(
            "primary {} answered {kind} for zone `{}` with serial {to}, which is not newer than ours ({ours}): \
             refused, as that would roll the zone back; the copy stays at {ours} (a forced retransfer takes any \
             serial)",
            label(p),
            zone.name
        )));
    }
    let Some(soa) = soa else {
        discard(&engine.store, zone.id, loaded).await;
        return Err(Failure::Other(format!("{} sent no SOA for the new version", label(p))));
    };
    let elapsed = started.elapsed();
    let committed = Committed {
        serial: to,
        soa,
        primary: who.clone(),
        primary_id: p.id,
        // The zone's `transfer.last_transfer` (the engine adds the commit times).
        summary_json: serde_json::to_string(&LastTransfer {
            kind: kind.to_string(),
            primary: who.clone(),
            serial_from: from,
            serial_to: to,
            messages: summary.messages.into(),
            records,
            bytes: summary.bytes,
            duration_ms: elapsed.as_millis() as u64,
            at: crate::store::now_secs(),
            commit_ms: None,
            total_ms: None,
        })
        .unwrap_or_default(),
    };
    let id = zone.id;
    let commit_started = Instant::now();
    let commit_ms: u64;
    let mut recorded = None;
    let config = engine.config();
    let journal_max = (config.transfer.journal_max_diffs, config.transfer.journal_max_bytes);
    match loaded {
        Loaded::Small(records) => {
            // The attempt and the next timers go in the commit's transaction:
            // its times are taken there (serving the small view after it takes
            // microseconds).
            let record = recording(*attempt, id, commit_started, elapsed, edns_expire);
            let load = if records.len() < DEDUPE_INLINE_MAX {
                zonedata::SmallLoad::new(records)
            } else {
                tokio::task::spawn_blocking(move || zonedata::SmallLoad::new(records))
                    .await
                    .map_err(|e| Failure::Other(format!("the duplicate check of the load failed: {e}")))?
            };
            let (old, (ms, done)) = engine
                .store
                // Its only failure before its first change is the link check.
                .call_checked(move |c| zonedata::replace_small_then(c, id, &load, &committed, record))
                .await
                .map_err(|e| not_committed(engine, zone, p, to, e))?;
            recorded = Some(Box::new(done));
            if let Some(b) = builder {
                engine.serve_full(id, &zone.name, b).await;
            }
            commit_ms = ms;
            if old > 0 {
                // The zone shrank below the large-zone size: drop its old table.
                tidy_after_full(engine, &zone.name, id, 0, old);
            }
        }
        Loaded::Large { version, records: written } => {
            // The attempt and the next timers in the commit's transaction, as
            // a small zone's: the housekeeping after it must not delay them.
            let record = recording(*attempt, id, commit_started, elapsed, edns_expire);
            let committed = engine
                .store
                .call(move |c| zonedata::commit_full_then(c, id, version, written, &committed, record))
                .await;
            let (old, (ms, done)) = match committed {
                Ok(v) => v,
                Err(e) => {
                    discard(&engine.store, id, Loaded::Large { version, records: written }).await;
                    return Err(not_committed(engine, zone, p, to, e));
                }
            };
            recorded = Some(Box::new(done));
            if let Some(b) = builder {
                engine.serve_full(id, &zone.name, b).await;
            }
            commit_ms = ms;
            // Served from now on; index it and drop the old copy, in steps.
            tidy_after_full(engine, &zone.name, id, version, old);
        }
        Loaded::Diffs(diffs) => {
            let diffs: Arc<Vec<Diff>> = Arc::new(diffs.into_iter().map(|d| d.deduped().unwrap_or(d)).collect());
            // The served view takes the diffs first (microseconds, and the
            // check that they apply); the store then journals them, a commit
            // of a few pages at any zone size, and the new view is served.
            // The records table catches up after that (`fold_journal`).
            let next = engine.next_view(id, &zone.name, diffs.clone()).await;
            match &next {
                NextView::Built(_, _, unchanged) => {
                    let taken =
                        if unchanged.is_empty() { diffs.clone() } else { Arc::new(as_taken(&diffs, unchanged)) };
                    // With the attempt and the next timers, as a small zone's load.
                    let record = recording(*attempt, id, commit_started, elapsed, edns_expire);
                    let (_, (ms, done)) = engine
                        .store
                        .call(move |c| zonedata::append_diffs_then(c, id, &taken, &committed, record))
                        .await
                        .map_err(|e| not_committed(engine, zone, p, to, e))?;
                    recorded = Some(Box::new(done));
                    engine.serve_next(&zone.name, next).await;
                    commit_ms = ms;
                    if let Err(e) = engine.store.call(move |c| zonedata::fold_journal(c, id, Some(journal_max))).await {
                        tracing::warn!(zone = %zone.name, error = %e, "cannot bring the records table up to the journal (retried on the next IXFR or start-up)");
                    }
                }
                NextView::Gone | NextView::FromStore(_) => {
                    // No view to check against: the store applies and checks.
                    let applied = engine
                        .store
                        .call(move |c| Ok(zonedata::apply_diffs(c, id, &diffs, &committed, journal_max)))
                        .await;
                    match applied {
                        Ok(Ok(_)) => {
                            engine.serve_next(&zone.name, next).await;
                            commit_ms = commit_started.elapsed().as_millis() as u64;
                        }
                        Ok(Err(DiffError::Mismatch(why))) => {
                            return Ok(TransferEnd::NeedAxfr(format!(
                                "the IXFR from {} does not apply: {why}",
                                label(p)
                            )))
                        }
                        Ok(Err(DiffError::Store(e))) | Err(e) => return Err(not_committed(engine, zone, p, to, e)),
                    }
                }
            }
        }
        Loaded::Nothing | Loaded::TooLarge => {
            return Err(Failure::Diff(format!("{} sent an empty transfer", label(p))))
        }
    }
    // Until the new version was served (housekeeping after that not counted).
    let total_ms = elapsed.as_millis() as u64 + commit_ms;
    seen.committed = Some((elapsed.as_secs_f64() + commit_ms as f64 / 1000.0, summary.bytes, records));
    tracing::info!(
        zone = %zone.name,
        primary = %who,
        r#type = kind,
        serial_from = ?from,
        serial_to = to,
        messages = summary.messages,
        records,
        bytes = summary.bytes,
        duration_ms = elapsed.as_millis() as u64,
        commit_ms,
        total_ms,
        "transfer finished"
    );
    Ok(TransferEnd::Done(Current { times: Some((commit_ms, total_ms)), edns_expire, recorded }))
}

/// Indexes a committed full load's table (`version`, when it has one) and
/// drops the superseded `old` one, in steps on the writer
/// ([`zonedata::finish_full`]), in the background: the transfer is over when
/// its version is committed and served. At a million records this is about
/// 1.3 s of work (0.5 s of index, the old copy's rows in 50 steps). Waiting
/// for it made the zone's status report the transfer that late and held the
/// zone's refresh, so a NOTIFY meanwhile waited. An IXFR before the index is
/// there builds it itself; a restart collects what a stop left behind.
fn tidy_after_full(engine: &Engine, zone: &str, id: i64, version: i64, old: i64) {
    let (store, zone) = (engine.store.clone(), zone.to_string());
    tokio::spawn(async move {
        if let Err(e) = zonedata::finish_full(&store, id, version, old).await {
            tracing::warn!(zone = %zone, error = %e,
                "cannot index the new version or drop the old one (retried on the next IXFR or start-up)");
        }
    });
}

/// What a transfer's commit runs in its transaction: the attempt and the
/// zone's next timers ([`Attempt::record`]), with the commit's time so far
/// (from `commit_started`; received in `received`). Gives the commit's
/// milliseconds and what was recorded.
fn recording(
    attempt: Attempt,
    zone_id: i64,
    commit_started: Instant,
    received: std::time::Duration,
    edns_expire: Option<u32>,
) -> impl FnOnce(&rusqlite::Connection) -> Result<(u64, (String, ZoneStatus)), StoreError> {
    move |tx| {
        let ms = commit_started.elapsed().as_millis() as u64;
        let current = Current { times: Some((ms, received.as_millis() as u64 + ms)), edns_expire, recorded: None };
        Ok((ms, attempt.record(tx, zone_id, Some(&current))?))
    }
}

/// The steps as they took effect on the view: without the adds of records it
/// had already (`unchanged`: step, index in its `added`).
fn as_taken(diffs: &[Diff], unchanged: &[(usize, usize)]) -> Vec<Diff> {
    let unchanged: std::collections::HashSet<&(usize, usize)> = unchanged.iter().collect();
    diffs
        .iter()
        .enumerate()
        .map(|(s, d)| Diff {
            from: d.from,
            to: d.to,
            deleted: d.deleted.clone(),
            added: d
                .added
                .iter()
                .enumerate()
                .filter(|(i, _)| !unchanged.contains(&(s, *i)))
                .map(|(_, r)| r.clone())
                .collect(),
        })
        .collect()
}

/// Why the commit of serial `to` from `p` did not happen.
fn not_committed(engine: &Engine, zone: &Zone, p: &LinkedPrimary, to: u32, e: StoreError) -> Failure {
    match e {
        StoreError::Unlinked { .. } => {
            tracing::warn!(zone = %zone.name, primary = %label(p), serial = to,
                "the primary was unlinked from the zone (or deleted) while its transfer ran; the transfer is discarded");
            Failure::Other(format!(
                "primary {} was unlinked from zone `{}` (or deleted) while its transfer of serial {to} ran: the \
                 transfer is discarded and the copy stays as it was",
                label(p),
                zone.name
            ))
        }
        e => {
            // Likely a full disk (or store.max_size_mib): /v2/status says so
            // until a transfer commits again.
            engine.note_write_error(&e);
            Failure::Store(e)
        }
    }
}

async fn discard(store: &Store, zone_id: i64, loaded: Loaded) {
    if let Loaded::Large { version, .. } = loaded {
        if let Err(e) = store.call(move |c| zonedata::discard(c, zone_id, version)).await {
            tracing::error!(zone_id, error = %e, "cannot remove the rows of a failed transfer (they stay invisible)");
        }
    }
}

/// What the stream left: the store side, the new SOA timers, and (for a full
/// transfer) the serving view's builder, fed as the records arrived.
type Consumed = (Loaded, Option<[u32; 4]>, Option<ViewBuilder>);

/// The store side of a transfer: takes update batches off the channel (the
/// transfer waits while the store is busy: backpressure, nothing dropped),
/// holds a full zone in memory while it is small and writes a large one in
/// batches as an invisible new version, and keeps IXFR steps in memory to apply
/// in one transaction at the end.
async fn consume(
    store: Store,
    zone_id: i64,
    origin: Name,
    mut rx: mpsc::Receiver<Vec<Update>>,
    max_ixfr: u64,
) -> Result<Consumed, (StoreError, Loaded)> {
    let mut loaded = Loaded::Nothing;
    let mut diff_records: u64 = 0;
    let mut builder: Option<ViewBuilder> = None;
    let mut buf: Vec<zonedata::Row> = Vec::new();
    // The record keys of a large load, to find its duplicates before the commit.
    let mut keys: Vec<i64> = Vec::new();
    let mut soa: Option<[u32; 4]> = None;
    while let Some(batch) = rx.recv().await {
        for update in batch {
            match update {
                Update::BeginFull => {
                    loaded = Loaded::Small(Vec::new());
                    builder = Some(ViewBuilder::new(&origin));
                }
                Update::BeginDiff { from, to } => {
                    let mut diffs = match std::mem::replace(&mut loaded, Loaded::Nothing) {
                        Loaded::Diffs(d) => d,
                        _ => Vec::new(),
                    };
                    diffs.push(Diff { from, to, ..Diff::default() });
                    loaded = Loaded::Diffs(diffs);
                }
                Update::Delete(r) => {
                    if let Loaded::Diffs(d) = &mut loaded {
                        if let Some(last) = d.last_mut() {
                            last.deleted.push(r);
                            diff_records += 1;
                        }
                    }
                }
                Update::Add(r) => {
                    if r.rtype == rtype::SOA {
                        if let Some(f) = r.soa_fields() {
                            soa = Some([f[1], f[2], f[3], f[4]]);
                        }
                    }
                    if let (Some(b), Loaded::Small(_) | Loaded::Large { .. }) = (&mut builder, &loaded) {
                        if let Err(e) = b.push(&r) {
                            return Err((StoreError::Corrupt(e), loaded));
                        }
                    }
                    match &mut loaded {
                        // A load that will be packed needs no owner text;
                        // past the packed size, each row gets it here, as
                        // it arrives (the first ones when the load is stored).
                        Loaded::Small(rows) if rows.len() < zonedata::PACKED_ZONE => rows.push(zonedata::Row::keyed(r)),
                        Loaded::Small(rows) => rows.push(zonedata::Row::new(r)),
                        Loaded::Large { .. } => {
                            let row = zonedata::Row::new(r);
                            keys.push(row.key);
                            buf.push(row);
                        }
                        Loaded::Diffs(d) => {
                            if let Some(last) = d.last_mut() {
                                last.added.push(r);
                                diff_records += 1;
                            }
                        }
                        Loaded::Nothing | Loaded::TooLarge => {}
                    }
                }
            }
        }
        if diff_records > max_ixfr {
            // Dropping the receiver ends the transfer; nothing was stored.
            return Ok((Loaded::TooLarge, None, None));
        }
        let first = match &mut loaded {
            Loaded::Small(r) if r.len() > zonedata::LARGE_ZONE => Some(std::mem::take(r)),
            _ => None,
        };
        if let Some(first) = first {
            let version = match store.call(move |c| zonedata::begin_full(c, zone_id)).await {
                Ok(v) => v,
                Err(e) => return Err((e, loaded)),
            };
            loaded = Loaded::Large { version, records: 0 };
            keys = first.iter().map(|r| r.key).collect();
            buf = first.into_iter().map(zonedata::Row::with_owner).collect();
        }
        if buf.len() >= STORE_BATCH {
            if let Err(e) = flush(&store, zone_id, &mut loaded, &mut buf).await {
                return Err((e, loaded));
            }
        }
    }
    if let Err(e) = flush(&store, zone_id, &mut loaded, &mut buf).await {
        return Err((e, loaded));
    }
    // The same record twice is one record (RFC 2181 §5), in the store as in
    // the view (small loads and each IXFR step are deduplicated by the store).
    match &mut loaded {
        Loaded::Large { version, records } => {
            let v = *version;
            let shared = match tokio::task::spawn_blocking(move || zonedata::shared_keys(keys)).await {
                Ok(s) => s,
                Err(e) => {
                    return Err((StoreError::Setup(format!("the duplicate check of the load failed: {e}")), loaded))
                }
            };
            if !shared.is_empty() {
                match store.call(move |c| zonedata::dedupe_full(c, zone_id, v, &shared)).await {
                    Ok(removed) => *records -= removed,
                    Err(e) => return Err((e, loaded)),
                }
            }
        }
        Loaded::Diffs(diffs) => {
            for d in diffs.iter_mut() {
                if let Some(unique) = d.deduped() {
                    *d = unique;
                }
            }
        }
        _ => {}
    }
    Ok((loaded, soa, builder))
}

async fn flush(
    store: &Store,
    zone_id: i64,
    loaded: &mut Loaded,
    buf: &mut Vec<zonedata::Row>,
) -> Result<(), StoreError> {
    if let Loaded::Large { version, records } = loaded {
        if buf.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(buf);
        let n = batch.len() as u64;
        let v = *version;
        store.call(move |c| zonedata::insert_batch(c, zone_id, v, &batch)).await?;
        *records += n;
    }
    Ok(())
}
