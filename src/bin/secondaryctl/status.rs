//! `secondaryctl status`: the daemon at a glance.

use secondaryd::model::Status;

use crate::output::{opt, table};
use crate::{success, Ctl, Failure};

pub async fn run(ctl: &Ctl) -> Result<(), Failure> {
    let status: Status = success(ctl.client.get("/v2/status").await?)?.data()?;
    ctl.print_object(&status, show);
    Ok(())
}

fn show(d: &Status) {
    let z = &d.zones;
    println!(
        "zones:   {} total: {} ok, {} bootstrapping, {} retrying, {} expired; {} expire within 24 h",
        z.total, z.ok, z.bootstrapping, z.retrying, z.expired, z.expiring_within_24h
    );
    // The daemon-wide figures are absent for an account's token.
    if let Some(e) = &d.events {
        println!(
            "refresh: {} running (limit {}, peak {}), {} waiting, {} scheduled",
            e.running, e.concurrency, e.peak_running, e.waiting, e.scheduled
        );
    }
    if let Some(n) = &d.notify {
        println!("notify:  {} accepted, {} refused, {} malformed dropped", n.accepted, n.refused, n.malformed_dropped);
    }
    if let Some(q) = &d.queries {
        let rl = &q.rate_limit;
        let limited = if rl.enabled {
            format!("; rate limiting: {} dropped, {} slipped", rl.dropped, rl.slipped)
        } else {
            "; rate limiting off".to_string()
        };
        println!(
            "queries: {} noerror, {} nxdomain, {} refused, {} servfail, {} formerr{limited}",
            q.noerror, q.nxdomain, q.refused, q.servfail, q.formerr
        );
    }
    if let Some(e) = &d.store_write_error {
        println!("store:   cannot write since {}: {}", e.at, e.message);
    }
    if d.not_in_sync.is_empty() {
        println!("all zones are in sync");
    } else {
        println!("\nnot in sync:");
        let rows = d
            .not_in_sync
            .iter()
            .map(|p| vec![p.name.clone(), p.state.to_string(), opt(&p.serial), opt(&p.expires_at), opt(&p.last_error)])
            .collect();
        table(&["ZONE", "STATE", "SERIAL", "EXPIRES", "LAST ERROR"], rows);
    }
}
