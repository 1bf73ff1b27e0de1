//! `secondaryctl zone ns …`: the nameservers a zone publishes.

use secondaryd::model::{Delegation, NsRecords, NsSettings, Record};
use serde::Serialize;

use crate::cli::ZoneNsCmd;
use crate::nameserver_set::set_id;
use crate::output::{joined, table};
use crate::{seg, Ctl, Failure};

/// What `zone ns show` prints: the answers of `…/ns_records` and
/// `…/nameservers` together.
#[derive(Serialize)]
struct ZoneNs {
    zone: String,
    settings: Option<NsSettings>,
    nameservers: Vec<Delegation>,
    ns_records: Vec<Record>,
}

pub async fn run(ctl: &Ctl, cmd: ZoneNsCmd) -> Result<(), Failure> {
    match cmd {
        ZoneNsCmd::Set { zone, names, sets } => {
            let mut ns_set_ids = Vec::with_capacity(sets.len());
            for set in &sets {
                ns_set_ids.push(set_id(ctl, set).await?);
            }
            let body = NsSettings { ns_names: names, ns_set_ids };
            ctl.call("PUT", &format!("/zones/{}/ns_records", seg(&zone)), Some(&body)).await?;
            show_zone(ctl, &zone).await?;
        }
        ZoneNsCmd::Clear { zone } => {
            ctl.delete(&format!("/zones/{}/ns_records", seg(&zone))).await?;
            if !ctl.json {
                println!("zone {zone} publishes its primary's NS records again");
            }
        }
        ZoneNsCmd::Show { zone } => show_zone(ctl, &zone).await?,
    }
    Ok(())
}

async fn show_zone(ctl: &Ctl, zone: &str) -> Result<(), Failure> {
    let path = format!("/zones/{}", seg(zone));
    let records: NsRecords = ctl.get(&format!("{path}/ns_records")).await?.json()?;
    let nameservers: Vec<Delegation> = ctl.get_data(&format!("{path}/nameservers")).await?;
    let v = ZoneNs { zone: zone.to_string(), settings: records.settings, nameservers, ns_records: records.data };
    ctl.print_object(&v, show);
    Ok(())
}

fn show(v: &ZoneNs) {
    println!("zone:        {}", v.zone);
    match &v.settings {
        None => println!("settings:    none: the primary's NS records are published"),
        Some(s) => println!("settings:    names {}; sets {}", joined(&s.ns_names, ", "), joined(&s.ns_set_ids, ", ")),
    }
    if let Some(r) = v.ns_records.first() {
        println!("NS TTL:      {}", r.ttl);
    }
    let rows: Vec<Vec<String>> = v
        .nameservers
        .iter()
        .map(|n| {
            let note = if n.priority == 1 { "SOA MNAME" } else { "" };
            vec![n.priority.to_string(), n.hostname.clone(), note.to_string()]
        })
        .collect();
    if rows.is_empty() {
        println!("nameservers: - (the zone has no data yet)");
    } else {
        println!();
        table(&["PRIORITY", "HOSTNAME", ""], rows);
    }
}
