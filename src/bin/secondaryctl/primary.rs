//! `secondaryctl primary …`, `link` and `unlink`: primary servers and the
//! zones they are linked to.

use secondaryd::model::{NewPrimaryServer, PrimaryServer, ZoneLink};

use crate::cli::PrimaryCmd;
use crate::output::{joined, opt};
use crate::{seg, Ctl, Failure};

pub const PRIMARIES: &str = "/secondary_dns/primaries";

pub async fn run(ctl: &Ctl, cmd: PrimaryCmd) -> Result<(), Failure> {
    match cmd {
        PrimaryCmd::Add { name, ip, port, tsig_key, notify_requires_tsig } => {
            let body = NewPrimaryServer {
                name,
                ip,
                port: Some(port),
                tsig_key,
                notify_requires_tsig: Some(notify_requires_tsig),
            };
            let p: PrimaryServer = ctl.send_data("POST", PRIMARIES, &body).await?;
            ctl.print_object(&p, show);
        }
        PrimaryCmd::List { sort } => {
            let items: Vec<PrimaryServer> = ctl.list_all(PRIMARIES, &format!("&sort={}", seg(&sort))).await?;
            ctl.print_list(&items, &["ID", "NAME", "IP", "PORT", "TSIG KEY", "ZONES"], row);
        }
        PrimaryCmd::Show { primary } => {
            let p: PrimaryServer = ctl.get_data(&format!("{PRIMARIES}/{}", seg(&primary))).await?;
            ctl.print_object(&p, show);
        }
        PrimaryCmd::Rm { primary } => {
            ctl.delete(&format!("{PRIMARIES}/{}", seg(&primary))).await?;
            if !ctl.json {
                println!("primary server {primary} deleted");
            }
        }
    }
    Ok(())
}

/// `link` or `unlink` a primary (by id or name) and a zone.
pub async fn link(ctl: &Ctl, what: &str, primary: &str, zone: &str) -> Result<(), Failure> {
    let path = format!("{PRIMARIES}/{}/{what}", seg(primary));
    let p: PrimaryServer = ctl.send_data("PUT", &path, &ZoneLink { zone: zone.to_string() }).await?;
    ctl.print_object(&p, show);
    Ok(())
}

fn row(p: &PrimaryServer) -> Vec<String> {
    vec![
        p.id.to_string(),
        p.name.clone(),
        p.ip.clone(),
        p.port.to_string(),
        opt(&p.tsig_key),
        joined(&p.linked_secondary_zones.names(), ","),
    ]
}

fn show(p: &PrimaryServer) {
    println!("id:           {}", p.id);
    println!("name:         {}", p.name);
    println!("address:      {} port {}", p.ip, p.port);
    println!("tsig key:     {}", opt(&p.tsig_key));
    println!("linked zones: {}", joined(&p.linked_secondary_zones.names(), ", "));
    println!("created:      {}", p.created_at);
}
