//! `secondaryctl nsset …`: nameserver sets, the nameservers grouped with the
//! NS/address TTLs and the hostmaster published with them.

use secondaryd::model::{NameserverSet, NameserverSetChange, NewNameserverSet};

use crate::cli::NssetCmd;
use crate::output::{joined, opt, yes_no};
use crate::{seg, Ctl, Failure};

const SETS: &str = "/nameserver_sets";

pub async fn run(ctl: &Ctl, cmd: NssetCmd) -> Result<(), Failure> {
    match cmd {
        NssetCmd::Add { name, hostmaster, ns_ttl, ip_ttl, external_ref } => {
            let body = NewNameserverSet { name, hostmaster, ns_ttl, ip_ttl, external_ref };
            let set: NameserverSet = ctl.send_data("POST", SETS, &body).await?;
            ctl.print_object(&set, show);
        }
        NssetCmd::List { external_ref, sort } => {
            let mut query = format!("&sort={}", seg(&sort));
            if let Some(r) = external_ref {
                query.push_str(&format!("&external_ref={}", seg(&r)));
            }
            let items: Vec<NameserverSet> = ctl.list_all(SETS, &query).await?;
            ctl.print_list(
                &items,
                &["ID", "NAME", "HOSTMASTER", "NS TTL", "IP TTL", "EXTERNAL REF", "IN USE", "NAMESERVERS"],
                row,
            );
        }
        NssetCmd::Show { set } => {
            let set: NameserverSet = ctl.get_data(&format!("{SETS}/{}", seg(&set))).await?;
            ctl.print_object(&set, show);
        }
        NssetCmd::Update { set, name, hostmaster, no_hostmaster, ns_ttl, ip_ttl, external_ref, no_external_ref } => {
            // `--no-…` sends null, which clears the field.
            let clearable = |value: Option<String>, clear: bool| match value {
                Some(v) => Some(Some(v)),
                None => clear.then_some(None),
            };
            let body = NameserverSetChange {
                name,
                hostmaster: clearable(hostmaster, no_hostmaster),
                ns_ttl,
                ip_ttl,
                external_ref: clearable(external_ref, no_external_ref),
            };
            let set: NameserverSet = ctl.send_data("PUT", &format!("{SETS}/{}", seg(&set)), &body).await?;
            ctl.print_object(&set, show);
        }
        NssetCmd::Rm { set } => {
            ctl.delete(&format!("{SETS}/{}", seg(&set))).await?;
            if !ctl.json {
                println!("nameserver set {set} deleted");
            }
        }
    }
    Ok(())
}

/// The id of a nameserver set given by id or name.
pub async fn set_id(ctl: &Ctl, set: &str) -> Result<i64, Failure> {
    let set: NameserverSet = ctl.get_data(&format!("{SETS}/{}", seg(set))).await?;
    Ok(set.id)
}

fn row(n: &NameserverSet) -> Vec<String> {
    vec![
        n.id.to_string(),
        n.name.clone(),
        opt(&n.hostmaster),
        n.ns_ttl.to_string(),
        n.ip_ttl.to_string(),
        opt(&n.external_ref),
        yes_no(n.in_use).into(),
        joined(&n.nameservers, ","),
    ]
}

fn show(n: &NameserverSet) {
    println!("id:           {}", n.id);
    println!("name:         {}", n.name);
    println!("hostmaster:   {}", opt(&n.hostmaster));
    println!("NS TTL:       {}", n.ns_ttl);
    println!("address TTL:  {}", n.ip_ttl);
    println!("external ref: {}", opt(&n.external_ref));
    println!("in use:       {}", yes_no(n.in_use));
    println!("nameservers:  {}", joined(&n.nameservers, ", "));
    println!("zones:        {}", joined(&n.zones, ", "));
    println!("created:      {}", n.created_at);
}
