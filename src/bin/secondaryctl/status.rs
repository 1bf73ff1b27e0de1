//! `secondaryctl status`: the daemon at a glance.

use secondaryd::model::{Status, ZoneState};

use crate::output::{opt, table};
use crate::{success, Ctl, Failure};

pub async fn run(ctl: &Ctl, check: bool) -> Result<(), Failure> {
    let status: Status = success(ctl.client.get("/v2/status").await?)?.data()?;
    if check {
        let (code, line) = check_line(&status);
        println!("{line}");
        return if code == 0 { Ok(()) } else { Err(Failure::Exit(code)) };
    }
    ctl.print_object(&status, show);
    Ok(())
}

/// The monitoring-plugin verdict (Nagios, Icinga, Sensu): 0 OK, 1 WARNING,
/// 2 CRITICAL, and its one line, naming a few zones that are not in sync.
pub fn check_line(d: &Status) -> (u8, String) {
    let z = &d.zones;
    let named = |state: ZoneState| -> String {
        let names: Vec<&str> =
            d.not_in_sync.iter().filter(|p| p.state == state).take(5).map(|p| p.name.as_str()).collect();
        if names.is_empty() {
            String::new()
        } else {
            format!(" ({}{})", names.join(", "), if names.len() == 5 { ", …" } else { "" })
        }
    };
    if z.expired > 0 || z.bootstrapping > 0 {
        let mut parts = Vec::new();
        if z.expired > 0 {
            parts.push(format!("{} expired{}", z.expired, named(ZoneState::Expired)));
        }
        if z.bootstrapping > 0 {
            parts.push(format!("{} never loaded{}", z.bootstrapping, named(ZoneState::Bootstrapping)));
        }
        (2, format!("SECONDARYD CRITICAL - {} of {} zones", parts.join(", "), z.total))
    } else if z.retrying > 0 {
        (1, format!("SECONDARYD WARNING - {} of {} zones retrying{}", z.retrying, z.total, named(ZoneState::Retrying)))
    } else {
        (0, format!("SECONDARYD OK - {} zones in sync", z.total))
    }
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
