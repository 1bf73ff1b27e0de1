//! `secondaryctl ns …`: custom (vanity) nameservers, host names in a set
//! with their addresses.

use clap::Subcommand;
use secondaryd::model::{CustomNs, NewCustomNs, NsAddress};

use crate::nameserver_set::set_id;
use crate::output::joined;
use crate::{seg, Ctl, Failure};

const CUSTOM_NS: &str = "/custom_ns";

#[derive(Subcommand)]
pub enum NsCmd {
    /// Create a custom nameserver in a set.
    Add {
        /// The nameserver's host name, e.g. ns1.example.com.
        ns_name: String,
        /// The set (id or name) it belongs to.
        #[arg(long)]
        set: String,
        /// An IPv4 (A) or IPv6 (AAAA) address; repeat for several.
        #[arg(long = "address", value_name = "IP")]
        addresses: Vec<String>,
    },
    /// List custom nameservers.
    List {
        /// Only the nameservers of this set (id or name).
        #[arg(long)]
        set: Option<String>,
        /// id:asc, id:desc, name:asc or name:desc
        #[arg(long, default_value = "name:asc")]
        sort: String,
    },
    /// Show one custom nameserver.
    Show { ns_name: String },
    /// Delete a custom nameserver.
    #[command(alias = "delete")]
    Rm { ns_name: String },
}

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
