//! `secondaryctl ns …`: custom (vanity) nameservers, host names in a set
//! with their addresses.

use secondaryd::model::{CustomNs, NewCustomNs, NsAddress};

use crate::cli::NsCmd;
use crate::nameserver_set::set_id;
use crate::output::joined;
use crate::{seg, Ctl, Failure};

const CUSTOM_NS: &str = "/custom_ns";

pub async fn run(ctl: &Ctl, cmd: NsCmd) -> Result<(), Failure> {
    match cmd {
        NsCmd::Add { ns_name, set, addresses } => {
            let ns_set = set_id(ctl, &set).await?;
            let dns_records = addresses
                .into_iter()
                .map(|a| NsAddress { kind: if a.contains(':') { "AAAA" } else { "A" }.to_string(), value: a })
                .collect();
            let body = NewCustomNs { ns_name, ns_set, dns_records };
            let ns: CustomNs = ctl.send_data("POST", CUSTOM_NS, &body).await?;
            ctl.print_object(&ns, show);
        }
        NsCmd::List { set, sort } => {
            let mut query = format!("&sort={}", seg(&sort));
            if let Some(set) = set {
                query.push_str(&format!("&ns_set={}", set_id(ctl, &set).await?));
            }
            let items: Vec<CustomNs> = ctl.list_all(CUSTOM_NS, &query).await?;
            ctl.print_list(&items, &["NAME", "SET", "ADDRESSES"], row);
        }
        NsCmd::Show { ns_name } => {
            let ns: CustomNs = ctl.get_data(&format!("{CUSTOM_NS}/{}", seg(&ns_name))).await?;
            ctl.print_object(&ns, show);
        }
        NsCmd::Rm { ns_name } => {
            ctl.delete(&format!("{CUSTOM_NS}/{}", seg(&ns_name))).await?;
            if !ctl.json {
                println!("custom nameserver {ns_name} deleted");
            }
        }
    }
    Ok(())
}

fn addresses(n: &CustomNs) -> String {
    let items: Vec<String> = n.dns_records.iter().map(|r| format!("{} {}", r.kind, r.value)).collect();
    joined(&items, ", ")
}

fn row(n: &CustomNs) -> Vec<String> {
    vec![n.ns_name.clone(), n.ns_set.to_string(), addresses(n)]
}

fn show(n: &CustomNs) {
    println!("name:      {}", n.ns_name);
    println!("set:       {}", n.ns_set);
    println!("addresses: {}", addresses(n));
    println!("created:   {}", n.created_at);
}
