//! The Prometheus endpoint (`[metrics] listen`, off by default): `GET /metrics`
//! on a TCP address of its own, bounded like the control API
//! ([`crate::api::serve`]).
//!
//! Nothing here counts: every figure is read from the part that owns it, the
//! same sources `/v2/status` reads, at scrape time:
//! - per zone (one series per zone and metric, `zone` the only label; a
//!   deleted zone's series are gone at the next scrape): serial, state, the
//!   age of the last successful refresh and the time left until expiry, from
//!   one short read on the store's reading connection (off the runtime's
//!   threads, never on the writer's or the query path);
//! - transfers in by type and outcome, with duration, size and record
//!   histograms: `zone::stats`, bumped by the refresh handler;
//! - NOTIFY received by outcome and reason, queries answered by RCODE,
//!   transfers out, rate limiting: the DNS listener's atomics ([`DnsStats`]);
//! - NOTIFY sent by outcome: `zone::notify_out`;
//! - the scheduler's running, waiting and peak events.
//!
//! Scrapers that ask for OpenMetrics (`Accept: application/openmetrics-text`,
//! as Prometheus does) get it as prometheus-client writes it; any other
//! client gets the Prometheus text format 0.0.4 ([`to_text_format`]), which
//! is what `promtool check metrics` and older tools read.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use crate::dns::{DnsStats, NotifyRefusal, ANSWERED_RCODES};
use crate::model::ZoneState;
use crate::store::now_secs;
use crate::store::zones::{self, ZoneGauges};
use crate::zone::notify_out::SENT_OUTCOMES;
use crate::zone::Engine;

/// Connections to the endpoint at once (a scraper or two, and a curl).
pub const CONNECTIONS: usize = 16;

/// The content type of the OpenMetrics text format prometheus-client writes.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The content type of the Prometheus text format.
pub const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Every metric's name starts with this (and `_`).
const PREFIX: &str = "secondaryd";

/// What `/metrics` reads: the engine (zones, transfers, NOTIFY out,
/// scheduler) and the DNS listener's counters.
pub struct Exporter {
    engine: Arc<Engine>,
    /// The metrics that live as long as the daemon: transfer counters and
    /// histograms, and a collector of the daemon-wide counters.
    registry: Registry,
}

impl Exporter {
    pub fn new(engine: Arc<Engine>, dns: Arc<DnsStats>) -> Exporter {
        let mut registry = Registry::with_prefix(PREFIX);
        let t = &engine.transfer_stats;
        registry.register(
            "transfers",
            "Zone transfers in (one connection to one primary), by type and outcome",
            t.transfers.clone(),
        );
        registry.register_with_unit(
            "transfer_duration",
            "Time of committed transfers in, from the request to the new version served",
            Unit::Seconds,
            t.duration_seconds.clone(),
        );
        registry.register_with_unit(
            "transfer_size",
            "DNS message bytes received by committed transfers in",
            Unit::Bytes,
            t.bytes.clone(),
        );
        registry.register(
            "transfer_records",
            "Records received by committed transfers in (an IXFR: added plus deleted)",
            t.records.clone(),
        );
        registry.register_collector(Box::new(Daemonwide { engine: engine.clone(), dns }));
        Exporter { engine, registry }
    }

    /// One scrape: the zones read from the store, everything else from
    /// memory. `openmetrics`: the OpenMetrics text, else the 0.0.4 text.
    /// The text is written on a blocking thread: at many zones it is a few
    /// hundred thousand lines, work the runtime's threads do not wait for.
    pub async fn scrape(self: &Arc<Self>, openmetrics: bool) -> Result<String, String> {
        let rows = self
            .engine
            .store
            .read(|c| zones::all_gauges(c))
            .await
            .map_err(|e| format!("cannot read the zones from the store: {e}"))?;
        let running = self.engine.scheduler.running_zones();
        let unrecorded: HashSet<i64> =
            self.engine.unrecorded.lock().unwrap_or_else(|e| e.into_inner()).keys().copied().collect();
        let zones = Zones { rows, running, unrecorded, now: now_secs() };
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.encode(zones, openmetrics))
            .await
            .map_err(|e| format!("the metrics encoder failed: {e}"))?
    }

    fn encode(&self, zones: Zones, openmetrics: bool) -> Result<String, String> {
        let mut per_scrape = Registry::with_prefix(PREFIX);
        per_scrape.register_collector(Box::new(zones));
        let mut out = String::new();
        // Writing to a String cannot fail; an encoder error would be ours.
        let encoded = prometheus_client::encoding::text::encode_registry(&mut out, &self.registry)
            .and_then(|_| prometheus_client::encoding::text::encode_registry(&mut out, &per_scrape))
            .and_then(|_| prometheus_client::encoding::text::encode_eof(&mut out));
        if let Err(e) = encoded {
            return Err(format!("cannot encode the metrics: {e}"));
        }
        Ok(if openmetrics { out } else { to_text_format(&out) })
    }
}

/// The routes of the metrics listener: `GET /metrics`, nothing else.
pub fn router(exporter: Arc<Exporter>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(exporter)
        .layer(axum::middleware::from_fn(crate::api::serve::request_timeout))
}

async fn metrics(State(exporter): State<Arc<Exporter>>, headers: HeaderMap) -> Response {
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    match exporter.scrape(openmetrics).await {
        Ok(body) => {
            let ty = if openmetrics { OPENMETRICS } else { TEXT_FORMAT };
            (StatusCode::OK, [(header::CONTENT_TYPE, ty)], body).into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "a metrics scrape failed");
            (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response()
        }
    }
}

/// The OpenMetrics text as the Prometheus text format 0.0.4: a counter's
/// HELP and TYPE name its samples' `_total` name, and the `# UNIT` and
/// `# EOF` lines (comments to that format) go.
pub fn to_text_format(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    // HELP comes before TYPE: held until the TYPE says what the name is.
    let mut help: Option<(&str, &str)> = None;
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, text) = rest.split_once(' ').unwrap_or((rest, ""));
            help = Some((name, text));
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, ty) = rest.split_once(' ').unwrap_or((rest, "untyped"));
            let (name, ty) = match ty {
                "counter" => (format!("{name}_total"), "counter"),
                "info" => (format!("{name}_info"), "gauge"),
                "unknown" | "stateset" => (name.to_string(), "untyped"),
                other => (name.to_string(), other),
            };
            if let Some((h, text)) = help.take() {
                if h == rest.split_once(' ').map_or(rest, |(n, _)| n) {
                    let _ = writeln!(out, "# HELP {name} {text}");
                }
            }
            let _ = writeln!(out, "# TYPE {name} {ty}");
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Encodes one counter family of `(labels, value)` samples.
fn counters<L: EncodeLabelSet>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (L, u64)>,
) -> std::fmt::Result {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, v) in samples {
        ConstCounter::new(v).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

/// Encodes one counter without labels.
fn counter(enc: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> std::fmt::Result {
    ConstCounter::new(v).encode(enc.encode_descriptor(name, help, None, MetricType::Counter)?)
}

/// Encodes one gauge without labels.
fn gauge(enc: &mut DescriptorEncoder, name: &str, help: &str, v: i64) -> std::fmt::Result {
    ConstGauge::new(v).encode(enc.encode_descriptor(name, help, None, MetricType::Gauge)?)
}

/// Encodes one gauge family of `(labels, value)` samples.
fn gauges<L: EncodeLabelSet>(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    samples: impl IntoIterator<Item = (L, i64)>,
) -> std::fmt::Result {
    let mut m = enc.encode_descriptor(name, help, unit, MetricType::Gauge)?;
    for (labels, v) in samples {
        ConstGauge::new(v).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

fn load(a: &AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

/// The daemon-wide figures, read from their owners at each scrape.
struct Daemonwide {
    engine: Arc<Engine>,
    dns: Arc<DnsStats>,
}

impl std::fmt::Debug for Daemonwide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemonwide").finish_non_exhaustive()
    }
}

impl Collector for Daemonwide {
    fn encode(&self, mut enc: DescriptorEncoder) -> std::fmt::Result {
        let dns = &self.dns;
        gauges(
            &mut enc,
            "build_info",
            "The running version (always 1).",
            None,
            [([("version", env!("CARGO_PKG_VERSION"))], 1i64)],
        )?;
        counters(
            &mut enc,
            "dns_queries",
            "Queries answered, by RCODE (other: any but the six named).",
            ANSWERED_RCODES.iter().zip(&dns.answered).map(|(name, a)| ([("rcode", *name)], load(a))),
        )?;
        let mut notify: Vec<(Vec<(&str, &str)>, u64)> =
            vec![(vec![("outcome", "accepted")], load(&dns.notify_accepted))];
        for (why, a) in NotifyRefusal::ALL.iter().zip(&dns.notify_refused) {
            let labels = match why {
                NotifyRefusal::Malformed => vec![("outcome", "malformed")],
                why => vec![("outcome", "refused"), ("reason", why.as_str())],
            };
            notify.push((labels, load(a)));
        }
        counters(
            &mut enc,
            "notify_received",
            "NOTIFY messages received: accepted, refused by reason, or malformed (not one SOA question).",
            notify,
        )?;
        let sent = &self.engine.notifier.sent;
        counters(
            &mut enc,
            "notify_sent",
            "NOTIFY to downstreams (one serial to one target, retries included), by how it ended.",
            SENT_OUTCOMES.iter().zip(sent).map(|(o, a)| ([("outcome", *o)], load(a))),
        )?;
        counter(
            &mut enc,
            "dns_malformed_messages",
            "DNS messages that did not parse, or responses sent to us: dropped or answered with a bare FORMERR.",
            load(&dns.malformed),
        )?;
        counter(
            &mut enc,
            "dns_other_opcodes",
            "DNS messages of an opcode other than QUERY and NOTIFY, answered NOTIMP.",
            load(&dns.not_implemented),
        )?;
        counters(
            &mut enc,
            "transfers_out",
            "Zone transfers to downstreams: finished (ok), refused (any error answer) or failed midway.",
            [
                ([("outcome", "ok")], load(&dns.transfers_out)),
                ([("outcome", "refused")], load(&dns.transfers_out_refused)),
                ([("outcome", "failed")], load(&dns.transfers_out_failed)),
            ],
        )?;
        counters(
            &mut enc,
            "rate_limited_responses",
            "UDP answers held back by response rate limiting: dropped, or sent truncated (slipped).",
            [([("action", "dropped")], load(&dns.rrl.dropped)), ([("action", "slipped")], load(&dns.rrl.slipped))],
        )?;
        let ev = self.engine.scheduler.counts();
        for (name, help, v) in [
            ("scheduler_running", "Zone events (refresh, expire) running now.", ev.running),
            ("scheduler_waiting", "Zone events due now and waiting for a slot (transfer.concurrency).", ev.waiting),
            ("scheduler_peak_running", "The most zone events ever running at once since start.", ev.peak_running),
            ("scheduler_scheduled", "Zone events in the schedule, due or not.", ev.scheduled),
            ("scheduler_concurrency", "Zone events allowed to run at once (transfer.concurrency).", ev.concurrency),
        ] {
            gauge(&mut enc, name, help, v as i64)?;
        }
        Ok(())
    }
}

/// The per-zone series of one scrape.
#[derive(Debug)]
struct Zones {
    rows: Vec<ZoneGauges>,
    running: HashSet<i64>,
    /// Zones whose last failure only memory holds (a full disk).
    unrecorded: HashSet<i64>,
    now: i64,
}

impl Collector for Zones {
    fn encode(&self, mut enc: DescriptorEncoder) -> std::fmt::Result {
        // Zone names hold letters, digits, `-`, `_`, `/` and dots only
        // (`zone::name`): nothing a label value would need escaped.
        let zone = |z: &ZoneGauges| [("zone", z.name.clone())];
        gauges(
            &mut enc,
            "zone_serial",
            "The SOA serial of the copy served (zones without a copy have none).",
            None,
            self.rows.iter().filter_map(|z| Some((zone(z), i64::from(z.serial?)))),
        )?;
        gauges(
            &mut enc,
            "zone_state",
            "Always 1, the zone's state in the label: bootstrapping, ok, refreshing, retrying or expired.",
            None,
            self.rows.iter().map(|z| {
                let failed = z.failed || self.unrecorded.contains(&z.id);
                let state = ZoneState::of(self.running.contains(&z.id), z.expired, z.serial.is_some(), failed);
                ([("zone", z.name.clone()), ("state", state.as_str().to_string())], 1i64)
            }),
        )?;
        gauges(
            &mut enc,
            "zone_last_refresh_age",
            "Seconds since the last successful refresh (a transfer, or the primary's serial found equal).",
            Some(&Unit::Seconds),
            self.rows.iter().filter_map(|z| Some((zone(z), (self.now - z.last_success_at?).max(0)))),
        )?;
        gauges(
            &mut enc,
            "zone_expires_in",
            "Seconds until the copy expires without a successful refresh (SOA EXPIRE); 0 once expired.",
            Some(&Unit::Seconds),
            self.rows.iter().filter(|z| z.serial.is_some()).filter_map(|z| {
                let left = if z.expired { 0 } else { (z.expires_at? - self.now).max(0) };
                Some((zone(z), left))
            }),
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zone::stats::{TransferOutcome, TransferType};

    #[test]
    fn the_text_format_names_counters_by_their_samples_and_drops_openmetrics_only_lines() {
        let om = "# HELP secondaryd_transfers Zone transfers.\n\
                  # TYPE secondaryd_transfers counter\n\
                  secondaryd_transfers_total{type=\"AXFR\",outcome=\"ok\"} 1\n\
                  # HELP secondaryd_zone_expires_in_seconds Seconds left.\n\
                  # TYPE secondaryd_zone_expires_in_seconds gauge\n\
                  # UNIT secondaryd_zone_expires_in_seconds seconds\n\
                  secondaryd_zone_expires_in_seconds{zone=\"a.test\"} 60\n\
                  # EOF\n";
        let text = to_text_format(om);
        assert_eq!(
            text,
            "# HELP secondaryd_transfers_total Zone transfers.\n\
             # TYPE secondaryd_transfers_total counter\n\
             secondaryd_transfers_total{type=\"AXFR\",outcome=\"ok\"} 1\n\
             # HELP secondaryd_zone_expires_in_seconds Seconds left.\n\
             # TYPE secondaryd_zone_expires_in_seconds gauge\n\
             secondaryd_zone_expires_in_seconds{zone=\"a.test\"} 60\n"
        );
    }

    fn row(id: i64, name: &str, serial: Option<u32>, expired: bool, failed: bool) -> ZoneGauges {
        ZoneGauges {
            id,
            name: name.to_string(),
            serial,
            expired,
            failed,
            last_success_at: serial.map(|_| 1_000),
            expires_at: serial.map(|_| 1_000 + 604_800),
        }
    }

    #[test]
    fn each_zone_has_one_series_per_metric_with_its_state_and_no_serial_before_its_first_copy() {
        let rows = vec![
            row(1, "ok.test", Some(7), false, false),
            row(2, "new.test", None, false, true),
            row(3, "old.test", Some(9), true, true),
            row(4, "busy.test", Some(3), false, true),
        ];
        let zones = Zones { rows, running: HashSet::from([4]), unrecorded: HashSet::new(), now: 1_000 + 600 };
        let mut registry = Registry::with_prefix(PREFIX);
        registry.register_collector(Box::new(zones));
        let mut om = String::new();
        prometheus_client::encoding::text::encode(&mut om, &registry).expect("encode");
        let samples: Vec<&str> = om.lines().filter(|l| !l.starts_with('#')).collect();
        for line in [
            "secondaryd_zone_serial{zone=\"ok.test\"} 7",
            "secondaryd_zone_serial{zone=\"old.test\"} 9",
            "secondaryd_zone_state{zone=\"ok.test\",state=\"ok\"} 1",
            "secondaryd_zone_state{zone=\"new.test\",state=\"bootstrapping\"} 1",
            "secondaryd_zone_state{zone=\"old.test\",state=\"expired\"} 1",
            "secondaryd_zone_state{zone=\"busy.test\",state=\"refreshing\"} 1",
            "secondaryd_zone_last_refresh_age_seconds{zone=\"ok.test\"} 600",
            "secondaryd_zone_expires_in_seconds{zone=\"ok.test\"} 604200",
            "secondaryd_zone_expires_in_seconds{zone=\"old.test\"} 0",
        ] {
            assert!(samples.contains(&line), "{line} in:\n{om}");
        }
        assert!(!om.contains("secondaryd_zone_serial{zone=\"new.test\"}"), "{om}");
        assert!(!om.contains("secondaryd_zone_expires_in_seconds{zone=\"new.test\"}"), "{om}");
        // 3 serials, 4 states, 3 ages, 3 expiries: never more than one series per zone and metric.
        assert_eq!(samples.len(), 13, "{om}");
        assert!(om.contains("# UNIT secondaryd_zone_expires_in_seconds seconds\n"), "{om}");
    }

    #[test]
    fn transfer_series_exist_at_zero_and_a_committed_transfer_moves_its_histograms() {
        let stats = crate::zone::stats::TransferStats::default();
        stats.count(TransferType::Ixfr, TransferOutcome::Ok, Some((0.5, 4_000, 12)));
        stats.count(TransferType::Ixfr, TransferOutcome::Fallback, None);
        let mut registry = Registry::with_prefix(PREFIX);
        registry.register("transfers", "Transfers", stats.transfers.clone());
        registry.register("transfer_records", "Records", stats.records.clone());
        let mut om = String::new();
        prometheus_client::encoding::text::encode(&mut om, &registry).expect("encode");
        let text = to_text_format(&om);
        for line in [
            "secondaryd_transfers_total{type=\"IXFR\",outcome=\"ok\"} 1",
            "secondaryd_transfers_total{type=\"IXFR\",outcome=\"fallback\"} 1",
            "secondaryd_transfers_total{type=\"AXFR\",outcome=\"ok\"} 0",
            "secondaryd_transfers_total{type=\"IXFR_to_AXFR\",outcome=\"failed\"} 0",
            "secondaryd_transfer_records_count{type=\"IXFR\"} 1",
            "secondaryd_transfer_records_sum{type=\"IXFR\"} 12.0",
            "secondaryd_transfer_records_bucket{le=\"16.0\",type=\"IXFR\"} 1",
            "secondaryd_transfer_records_bucket{le=\"4.0\",type=\"IXFR\"} 0",
            "secondaryd_transfer_records_count{type=\"AXFR\"} 0",
            "# TYPE secondaryd_transfers_total counter",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
        }
        // 3 types x 5 outcomes.
        assert_eq!(text.lines().filter(|l| l.starts_with("secondaryd_transfers_total{")).count(), 15);
    }
}
