//! `secondaryctl zone …`: secondary zones, their transfer status, refreshes
//! and exports. `zone add` of many zones is in `zone_add`, `zone ns` in `zone_ns`.

use std::time::Duration;

use secondaryd::model::{LastTransfer, NewZone, Scheduled, Zone, ZoneEvent, ZoneFile};

use crate::cli::ZoneCmd;
use crate::output::{joined, opt, unix_time};
use crate::zone_ns;
use crate::{seg, zone_add, Ctl, Failure};

pub async fn run(ctl: &Ctl, cmd: ZoneCmd) -> Result<(), Failure> {
    match cmd {
        ZoneCmd::Add { names, primary: None, from: None } if names.len() == 1 => {
            let body = NewZone { name: names.concat(), catalog: None, primaries: Vec::new() };
            let z: Zone = ctl.send_data("POST", "/secondary_dns/zones", &body).await?;
            ctl.print_object(&z, show);
        }
        ZoneCmd::Add { names, primary, from } => return zone_add::run(ctl, names, primary, from).await,
        ZoneCmd::List { name_like, state, sort } => {
            let mut query = format!("&sort={}", seg(&sort));
            if let Some(st) = state {
                query.push_str(&format!("&state={}", seg(&st)));
            }
            if let Some(n) = name_like {
                query.push_str(&format!("&name_like={}", seg(&n)));
            }
            let items: Vec<Zone> = ctl.list_all("/zones", &query).await?;
            ctl.print_list(
                &items,
                &["ID", "NAME", "STATE", "SERIAL", "RECORDS", "PRIMARIES", "LAST TRANSFER", "LAST ERROR"],
                row,
            );
        }
        ZoneCmd::Show { zone } => {
            let z: Zone = ctl.get_data(&format!("/zones/{}", seg(&zone))).await?;
            ctl.print_object(&z, show);
        }
        ZoneCmd::Status { zone } => {
            let z: Zone = ctl.get_data(&format!("/zones/{}", seg(&zone))).await?;
            ctl.print_object(&z, show_status);
        }
        ZoneCmd::Export { zone } => {
            let file: ZoneFile = ctl.get_data(&format!("/zones/{}/file", seg(&zone))).await?;
            if ctl.json {
                ctl.print_object(&file, |_| {});
            } else {
                print!("{}", file.zone);
            }
        }
        ZoneCmd::Refresh { zone, wait } => return refresh(ctl, &zone, ZoneEvent::Refresh, wait).await,
        ZoneCmd::Retransfer { zone, wait } => return refresh(ctl, &zone, ZoneEvent::Retransfer, wait).await,
        ZoneCmd::Rm { zone } => {
            ctl.delete(&format!("/domains/{}", seg(&zone))).await?;
            if !ctl.json {
                println!("zone {zone} deleted");
            }
        }
        ZoneCmd::Ns(cmd) => return zone_ns::run(ctl, cmd).await,
    }
    Ok(())
}

/// Schedules a refresh; with `wait`, polls until it has run and reports how it went.
async fn refresh(ctl: &Ctl, zone: &str, event: ZoneEvent, wait: bool) -> Result<(), Failure> {
    let path = format!("/zones/{}", seg(zone));
    let scheduled: Scheduled = ctl.call::<()>("POST", &format!("{path}/{event}"), None).await?.data()?;
    if !wait {
        if ctl.json {
            ctl.print_object(&scheduled, |_| {});
        } else {
            println!("{event} of {zone} scheduled");
        }
        return Ok(());
    }
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let z: Zone = ctl.get_data(&path).await?;
        let t = &z.transfer;
        if t.attempts <= scheduled.attempts || t.refreshing || t.queued {
            continue;
        }
        ctl.print_object(&z, show_status);
        return if t.last_error.is_none() { Ok(()) } else { Err(Failure::Refused) };
    }
}

fn primaries(z: &Zone) -> String {
    let names: Vec<&str> = z.primaries.iter().map(|p| p.name.as_str()).collect();
    joined(&names, ",")
}

fn row(z: &Zone) -> Vec<String> {
    let t = &z.transfer;
    vec![
        z.id.to_string(),
        z.name.clone(),
        t.state.to_string(),
        opt(&t.serial),
        t.records.to_string(),
        primaries(z),
        opt(&z.last_transferred_at),
        opt(&t.last_error.as_ref().map(|e| &e.message)),
    ]
}

fn show(z: &Zone) {
    println!("id:               {}", z.id);
    println!("name:             {}", z.name);
    println!("primaries:        {}", primaries(z));
    println!("state:            {}", z.transfer.state);
    println!("serial:           {}", opt(&z.transfer.serial));
    println!("last transferred: {}", opt(&z.last_transferred_at));
    println!("created:          {}", z.created_at);
}

fn last_transfer_line(t: &Option<LastTransfer>) -> String {
    let Some(t) = t else {
        return "-".into();
    };
    format!(
        "{} from {}, serial {} → {}, {} records, {} messages, {} bytes, {} ms (+{} ms commit), at {}",
        t.kind,
        t.primary,
        opt(&t.serial_from),
        t.serial_to,
        t.records,
        t.messages,
        t.bytes,
        t.duration_ms,
        opt(&t.commit_ms),
        unix_time(t.at),
    )
}

fn show_status(z: &Zone) {
    let t = &z.transfer;
    println!("zone:          {}", z.name);
    println!("state:         {}", t.state);
    println!("serial:        {} (primary reported {})", opt(&t.serial), opt(&t.primary_serial));
    println!("records:       {}", t.records);
    println!("primaries:     {}", primaries(z));
    println!("last primary:  {}", opt(&t.last_primary));
    println!("last transfer: {}", last_transfer_line(&t.last_transfer));
    match &t.last_error {
        None => println!("last error:    -"),
        Some(err) => println!("last error:    {} (at {})", err.message, opt(&err.at)),
    }
    println!("last attempt:  {}", opt(&t.last_attempt_at));
    println!("last success:  {}", opt(&t.last_success_at));
    println!("next refresh:  {}", opt(&t.next_refresh_at));
    println!("expires at:    {}", opt(&t.expires_at));
    match &t.last_notify {
        None => println!("last notify:   -"),
        Some(n) => println!("last notify:   from {} serial {} at {}", n.from, opt(&n.serial), n.at),
    }
    if let Some(timers) = &t.timers {
        println!(
            "timers:        refresh {} s, retry {} s, expire {} s (after clamps), back-off step {}",
            timers.refresh, timers.retry, timers.expire, t.backoff
        );
    }
}
