//! What the refresh handler counts for the metrics endpoint: zone transfers
//! in, by type and outcome, and the duration, size and records of those that
//! committed. These are prometheus-client's own types (atomics behind an
//! `Arc`), so `crate::metrics` registers the very counters the handler bumps:
//! one source of truth, no second count. Labels come from small fixed sets
//! (never a primary or an error text), so the series stay bounded.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};

/// A transfer's type: what was asked for, and what came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferType {
    Axfr,
    Ixfr,
    /// An AXFR after an IXFR that could not be used, or an IXFR answered
    /// with the whole zone (RFC 1995 §4).
    IxfrToAxfr,
}

impl TransferType {
    pub const ALL: [TransferType; 3] = [TransferType::Axfr, TransferType::Ixfr, TransferType::IxfrToAxfr];

    /// The label value; the zone's `last_transfer.kind` says `IXFR→AXFR` for
    /// the last, kept to ASCII here for the tools that read metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            TransferType::Axfr => "AXFR",
            TransferType::Ixfr => "IXFR",
            TransferType::IxfrToAxfr => "IXFR_to_AXFR",
        }
    }
}

/// How one transfer (one connection to one primary) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferOutcome {
    /// A new version was committed and is served.
    Ok,
    /// The primary's IXFR answer said we are current.
    UpToDate,
    /// The IXFR could not be used (no journal that far back, a diff that
    /// does not apply, too many changes): an AXFR follows.
    Fallback,
    /// The primary refused it: an error RCODE, or a TSIG failure.
    Refused,
    /// Anything else: network, timeouts, a malformed or inconsistent
    /// transfer, a serial that would roll the zone back, the store.
    Failed,
}

impl TransferOutcome {
    pub const ALL: [TransferOutcome; 5] = [
        TransferOutcome::Ok,
        TransferOutcome::UpToDate,
        TransferOutcome::Fallback,
        TransferOutcome::Refused,
        TransferOutcome::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TransferOutcome::Ok => "ok",
            TransferOutcome::UpToDate => "up_to_date",
            TransferOutcome::Fallback => "fallback",
            TransferOutcome::Refused => "refused",
            TransferOutcome::Failed => "failed",
        }
    }
}

impl EncodeLabelValue for TransferType {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(encoder, self.as_str())
    }
}

impl EncodeLabelValue for TransferOutcome {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(encoder, self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct TransferLabels {
    pub r#type: TransferType,
    pub outcome: TransferOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct TypeLabel {
    pub r#type: TransferType,
}

type Histograms = Family<TypeLabel, Histogram, fn() -> Histogram>;

/// Transfers in: counted by type and outcome; the committed ones measured.
#[derive(Debug, Clone)]
pub struct TransferStats {
    pub transfers: Family<TransferLabels, Counter>,
    /// From the first byte asked for to the new version served.
    pub duration_seconds: Histograms,
    /// DNS message bytes received.
    pub bytes: Histograms,
    /// Records received (an IXFR's added plus deleted).
    pub records: Histograms,
}

impl Default for TransferStats {
    fn default() -> Self {
        let stats = TransferStats {
            transfers: Family::default(),
            // 10 ms to about 3 hours (transfer.total_timeout is 2 h by default).
            duration_seconds: Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.01, 4.0, 11))),
            // 512 bytes to 8 GiB.
            bytes: Family::new_with_constructor(|| Histogram::new(exponential_buckets(512.0, 4.0, 13))),
            // 1 record to 16 million (transfer.max_records is 10 million).
            records: Family::new_with_constructor(|| Histogram::new(exponential_buckets(1.0, 4.0, 13))),
        };
        // Every series exists from the start at 0, so `increase()` sees the first transfer.
        for r#type in TransferType::ALL {
            for outcome in TransferOutcome::ALL {
                let _ = stats.transfers.get_or_create(&TransferLabels { r#type, outcome });
            }
            let l = TypeLabel { r#type };
            let _ = stats.duration_seconds.get_or_create(&l);
            let _ = stats.bytes.get_or_create(&l);
            let _ = stats.records.get_or_create(&l);
        }
        stats
    }
}

impl TransferStats {
    /// Counts one transfer; `committed` is (seconds, bytes, records) of one that was.
    pub fn count(&self, r#type: TransferType, outcome: TransferOutcome, committed: Option<(f64, u64, u64)>) {
        self.transfers.get_or_create(&TransferLabels { r#type, outcome }).inc();
        if let Some((secs, bytes, records)) = committed {
            let l = TypeLabel { r#type };
            self.duration_seconds.get_or_create(&l).observe(secs);
            self.bytes.get_or_create(&l).observe(bytes as f64);
            self.records.get_or_create(&l).observe(records as f64);
        }
    }
}
