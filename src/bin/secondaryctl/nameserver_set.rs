//! `secondaryctl nsset …`: nameserver sets, the nameservers grouped with the
//! NS/address TTLs and the hostmaster published with them.

use clap::Subcommand;
use secondaryd::model::{NameserverSet, NameserverSetChange, NewNameserverSet};

use crate::output::{joined, opt, yes_no};
use crate::{seg, Ctl, Failure};

const SETS: &str = "/nameserver_sets";

#[derive(Subcommand)]
pub enum NssetCmd {
    /// Create a nameserver set.
    Add {
        name: String,
        /// E-mail address published as the SOA RNAME of the zones using the set.
        #[arg(long)]
        hostmaster: Option<String>,
        /// TTL of the NS records [default: 86400]
        #[arg(long)]
        ns_ttl: Option<u32>,
        /// TTL of the nameservers' A/AAAA records [default: 3600]
        #[arg(long)]
        ip_ttl: Option<u32>,
        /// Your own identifier for the set.
        #[arg(long)]
        external_ref: Option<String>,
    },
    /// List nameserver sets.
    List {
        /// Only sets with this external_ref.
        #[arg(long)]
        external_ref: Option<String>,
        /// id:asc, id:desc, name:asc or name:desc
        #[arg(long, default_value = "id:asc")]
        sort: String,
    },
    /// Show one set (by id or name).
    Show { set: String },
    /// Change a set's fields (by id or name); fields not given stay.
    Update {
        set: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, conflicts_with = "no_hostmaster")]
        hostmaster: Option<String>,
        /// Remove the hostmaster (zones keep the primary's SOA RNAME).
        #[arg(long)]
        no_hostmaster: bool,
        #[arg(long)]
        ns_ttl: Option<u32>,
        #[arg(long)]
        ip_ttl: Option<u32>,
        #[arg(long, conflicts_with = "no_external_ref")]
        external_ref: Option<String>,
        #[arg(long)]
        no_external_ref: bool,
    },
    /// Delete a set (by id or name); refused while it has nameservers or zones use it.
    #[command(alias = "delete")]
    Rm { set: String },
}

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
