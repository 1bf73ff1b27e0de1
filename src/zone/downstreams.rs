//! Who follows our zones: the `[[downstream]]` entries of the config, plus
//! each zone's own entries set over the API (`/zones/{zone}/downstreams`,
//! stored with the zone). One list per zone serves both the access check of
//! transfers out and the targets of NOTIFY out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::config::DownstreamConfig;

type ZoneId = i64;

pub struct Downstreams {
    /// `[[downstream]]` (a config reload replaces them).
    config: arc_swap::ArcSwap<Vec<DownstreamConfig>>,
    per_zone: Mutex<HashMap<ZoneId, Arc<Vec<DownstreamConfig>>>>,
}

impl Downstreams {
    pub fn new(config: Vec<DownstreamConfig>) -> Downstreams {
        Downstreams { config: arc_swap::ArcSwap::from_pointee(config), per_zone: Mutex::new(HashMap::new()) }
    }

    /// The `[[downstream]]` entries of a reloaded config.
    pub fn set_config(&self, config: Vec<DownstreamConfig>) {
        self.config.store(Arc::new(config));
    }

    /// Every entry that covers zone `zone_id` named `zone` (normalized).
    pub fn for_zone(&self, zone_id: ZoneId, zone: &str) -> Vec<DownstreamConfig> {
        let mut out: Vec<DownstreamConfig> = self
            .config
            .load()
            .iter()
            .filter(|d| d.zones.as_ref().is_none_or(|z| z.iter().any(|z| z == zone)))
            .cloned()
            .collect();
        if let Some(own) = self.per_zone.lock().unwrap_or_else(|e| e.into_inner()).get(&zone_id) {
            out.extend(own.iter().cloned());
        }
        out
    }

    /// The zone's own entries (API).
    pub fn own(&self, zone_id: ZoneId) -> Arc<Vec<DownstreamConfig>> {
        self.per_zone.lock().unwrap_or_else(|e| e.into_inner()).get(&zone_id).cloned().unwrap_or_default()
    }

    /// Replaces the zone's own entries (none: removes them).
    pub fn set_own(&self, zone_id: ZoneId, entries: Vec<DownstreamConfig>) {
        let mut map = self.per_zone.lock().unwrap_or_else(|e| e.into_inner());
        if entries.is_empty() {
            map.remove(&zone_id);
        } else {
            map.insert(zone_id, Arc::new(entries));
        }
    }
}

impl super::Engine {
    /// Reads every zone's own downstreams (start-up). An entry that no longer
    /// checks (its key was removed from the config) is left out, with a
    /// warning.
    pub async fn load_zone_downstreams(&self) -> Result<usize, crate::store::StoreError> {
        let all = self.store.call(|c| crate::store::downstreams::all(c)).await?;
        let n = all.len();
        for (zone, stored) in all {
            let mut entries = Vec::new();
            for d in stored {
                match DownstreamConfig::parse(
                    &d.address,
                    d.tsig_key.as_deref(),
                    d.notify.as_deref(),
                    &self.config().tsig_keys,
                ) {
                    Ok(e) => entries.push(e),
                    Err((field, e)) => {
                        tracing::warn!(zone_id = zone, address = %d.address, field, error = %e, "a zone downstream is ignored")
                    }
                }
            }
            self.downstreams.set_own(zone, entries);
        }
        Ok(n)
    }
}
