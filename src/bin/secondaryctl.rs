//! `secondaryctl`: a thin client of the control API for people (tables) and
//! scripts (`--json`). Exit codes: 0 ok, 1 the API refused, 3 cannot reach the
//! daemon; clap uses 2 for usage errors.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use secondaryd::client::{Client, Endpoint, Response};
use secondaryd::config::{Config, DEV_DIR};
use serde_json::{json, Value};

/// Manage a running secondaryd over its control socket.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// The daemon's control socket [default: $SECONDARYD_SOCKET, else control.socket
    /// of --config, else ./secondaryd-dev/control.sock with --dev, else /run/secondaryd/control.sock]
    #[arg(long, global = true, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Read the socket path and default account from this daemon config file.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Talk to a daemon started with `secondaryd --dev`.
    #[arg(long, global = true)]
    dev: bool,
    /// The account to act on [default: $SECONDARYD_ACCOUNT, else the only token
    /// account of --config, else 1]
    #[arg(long, global = true, value_name = "N")]
    account: Option<i64>,
    /// Print the API's JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Primary servers: the servers zones are transferred from.
    #[command(subcommand)]
    Primary(PrimaryCmd),
    /// Secondary zones.
    #[command(subcommand)]
    Zone(ZoneCmd),
    /// The daemon at a glance: zones per state, zones not in sync and why, transfers.
    Status,
    /// Nameserver sets: nameservers grouped with the NS/address TTLs and the
    /// hostmaster published with them.
    #[command(subcommand)]
    Nsset(NssetCmd),
    /// Custom (vanity) nameservers: host names in a set, with their addresses.
    #[command(subcommand)]
    Ns(NsCmd),
    /// Link a primary (id or name) to a secondary zone; primaries are tried in link order.
    Link { primary: String, zone: String },
    /// Unlink a primary (id or name) from a secondary zone.
    Unlink { primary: String, zone: String },
}

#[derive(Subcommand)]
enum PrimaryCmd {
    /// Create a primary server.
    Add {
        name: String,
        ip: String,
        #[arg(long, default_value_t = 53)]
        port: u16,
        /// Name of a [[tsig_key]] from the daemon's config, used for SOA queries and transfers.
        #[arg(long)]
        tsig_key: Option<String>,
        /// Refuse unsigned NOTIFY from this primary (needs --tsig-key).
        #[arg(long)]
        notify_requires_tsig: bool,
    },
    /// List primary servers.
    List {
        /// id:asc, id:desc, name:asc or name:desc
        #[arg(long, default_value = "id:asc")]
        sort: String,
    },
    /// Show one primary server (by id or name).
    Show { primary: String },
    /// Delete a primary server (by id or name); its links go with it.
    #[command(alias = "delete")]
    Rm { primary: String },
}

#[derive(Subcommand)]
enum ZoneCmd {
    /// Create a secondary zone.
    Add { name: String },
    /// List secondary zones.
    List {
        /// Only zones whose name contains this text.
        #[arg(long)]
        name_like: Option<String>,
        /// Only zones in this state: ok, bootstrapping, retrying or expired.
        #[arg(long)]
        state: Option<String>,
        /// id:asc, id:desc, name:asc or name:desc
        #[arg(long, default_value = "name:asc")]
        sort: String,
    },
    /// Show one zone.
    Show { zone: String },
    /// Show a zone's transfer status: state, serials, last transfer, last error, timers.
    Status { zone: String },
    /// Print the zone as an RFC 1035 master file.
    Export { zone: String },
    /// Check the primary's serial now and transfer if it is newer.
    Refresh {
        zone: String,
        /// Wait until this refresh has finished and print its outcome (exit 1 if it failed).
        #[arg(long)]
        wait: bool,
    },
    /// Transfer the whole zone now (AXFR), whatever the serial.
    Retransfer {
        zone: String,
        /// Wait until this transfer has finished and print its outcome (exit 1 if it failed).
        #[arg(long)]
        wait: bool,
    },
    /// Delete a zone and all its data.
    #[command(alias = "delete")]
    Rm { zone: String },
    /// The nameservers a zone publishes (its apex NS, their addresses, the SOA MNAME/RNAME).
    #[command(subcommand)]
    Ns(ZoneNsCmd),
}

#[derive(Subcommand)]
enum NssetCmd {
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

#[derive(Subcommand)]
enum NsCmd {
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

#[derive(Subcommand)]
enum ZoneNsCmd {
    /// Publish these nameservers for the zone instead of the primary's NS:
    /// the --name ones first, then each --set's nameservers, in order.
    Set {
        zone: String,
        /// A nameserver host name; repeat for several.
        #[arg(long = "name", value_name = "NS_NAME")]
        names: Vec<String>,
        /// A nameserver set (id or name); repeat for several.
        #[arg(long = "set", value_name = "SET")]
        sets: Vec<String>,
    },
    /// Publish the primary's NS records again.
    Clear { zone: String },
    /// Show the zone's nameservers in priority order and its settings.
    Show { zone: String },
}

/// Percent-encodes one path segment (primary names may contain spaces).
fn seg(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

struct Ctl {
    client: Client,
    account: i64,
    json: bool,
}

enum Failure {
    Api(Response),
    Unreachable(String),
    /// The operation ran and failed; its outcome was printed.
    Refused,
}

impl Ctl {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Response, Failure> {
        let full = format!("/v2/{}{}", self.account, path);
        let resp =
            self.client.request(method, &full, body.as_ref()).await.map_err(|e| Failure::Unreachable(e.to_string()))?;
        if resp.is_success() {
            Ok(resp)
        } else {
            Err(Failure::Api(resp))
        }
    }

    /// Fetches every page of a list.
    async fn list_all(&self, path: &str, query: &str) -> Result<Vec<Value>, Failure> {
        let mut items = Vec::new();
        let mut page = 1;
        loop {
            let resp = self.call("GET", &format!("{path}?per_page=100&page={page}{query}"), None).await?;
            let batch = resp.body["data"].as_array().cloned().unwrap_or_default();
            items.extend(batch);
            let total_pages = resp.body["pagination"]["total_pages"].as_u64().unwrap_or(1);
            if page >= total_pages {
                return Ok(items);
            }
            page += 1;
        }
    }

    fn print_object(&self, v: &Value, show: fn(&Value)) {
        if self.json {
            println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
        } else {
            show(v);
        }
    }

    fn print_list(&self, items: &[Value], headers: &[&str], row: fn(&Value) -> Vec<String>) {
        if self.json {
            println!("{}", serde_json::to_string_pretty(&Value::Array(items.to_vec())).unwrap_or_default());
        } else {
            table(headers, items.iter().map(row).collect());
        }
    }
}

fn table(headers: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let parts: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    for r in rows {
        line(r);
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_string(),
        other => other.to_string(),
    }
}

fn primary_row(p: &Value) -> Vec<String> {
    let zones: Vec<String> = p["linked_secondary_zones"].as_array().into_iter().flatten().map(s).collect();
    vec![
        s(&p["id"]),
        s(&p["name"]),
        s(&p["ip"]),
        s(&p["port"]),
        s(&p["tsig_key"]),
        if zones.is_empty() { "-".into() } else { zones.join(",") },
    ]
}

fn show_primary(p: &Value) {
    let zones: Vec<String> = p["linked_secondary_zones"].as_array().into_iter().flatten().map(s).collect();
    println!("id:           {}", s(&p["id"]));
    println!("name:         {}", s(&p["name"]));
    println!("address:      {} port {}", s(&p["ip"]), s(&p["port"]));
    println!("tsig key:     {}", s(&p["tsig_key"]));
    println!("linked zones: {}", if zones.is_empty() { "-".into() } else { zones.join(", ") });
    println!("created:      {}", s(&p["created_at"]));
}

fn zone_primaries(z: &Value) -> String {
    let names: Vec<String> = z["primaries"].as_array().into_iter().flatten().map(|p| s(&p["name"])).collect();
    if names.is_empty() {
        "-".into()
    } else {
        names.join(",")
    }
}

fn zone_row(z: &Value) -> Vec<String> {
    let t = &z["transfer"];
    vec![
        s(&z["id"]),
        s(&z["name"]),
        s(&t["state"]),
        s(&t["serial"]),
        s(&t["records"]),
        zone_primaries(z),
        s(&z["last_transferred_at"]),
        t["last_error"]["message"].as_str().unwrap_or("-").to_string(),
    ]
}

fn show_zone(z: &Value) {
    println!("id:               {}", s(&z["id"]));
    println!("name:             {}", s(&z["name"]));
    println!("primaries:        {}", zone_primaries(z));
    println!("state:            {}", s(&z["transfer"]["state"]));
    println!("serial:           {}", s(&z["transfer"]["serial"]));
    println!("last transferred: {}", s(&z["last_transferred_at"]));
    println!("created:          {}", s(&z["created_at"]));
}

fn last_transfer_line(t: &Value) -> String {
    if t.is_null() {
        return "-".into();
    }
    format!(
        "{} from {}, serial {} → {}, {} records, {} messages, {} bytes, {} ms (+{} ms commit), at {}",
        s(&t["type"]),
        s(&t["primary"]),
        s(&t["serial_from"]),
        s(&t["serial_to"]),
        s(&t["records"]),
        s(&t["messages"]),
        s(&t["bytes"]),
        s(&t["duration_ms"]),
        s(&t["commit_ms"]),
        t["at"].as_i64().map(secondaryd_time).unwrap_or_else(|| "-".into()),
    )
}

fn secondaryd_time(secs: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

fn show_daemon_status(d: &Value) {
    let z = &d["zones"];
    println!(
        "zones:   {} total: {} ok, {} bootstrapping, {} retrying, {} expired; {} expire within 24 h",
        s(&z["total"]),
        s(&z["ok"]),
        s(&z["bootstrapping"]),
        s(&z["retrying"]),
        s(&z["expired"]),
        s(&z["expiring_within_24h"])
    );
    let e = &d["events"];
    println!(
        "refresh: {} running (limit {}, peak {}), {} waiting, {} scheduled",
        s(&e["running"]),
        s(&e["concurrency"]),
        s(&e["peak_running"]),
        s(&e["waiting"]),
        s(&e["scheduled"])
    );
    let n = &d["notify"];
    println!(
        "notify:  {} accepted, {} refused, {} malformed dropped",
        s(&n["accepted"]),
        s(&n["refused"]),
        s(&n["malformed_dropped"])
    );
    let q = &d["queries"];
    let rl = &q["rate_limit"];
    let limited = if rl["enabled"] == true {
        format!("; rate limiting: {} dropped, {} slipped", s(&rl["dropped"]), s(&rl["slipped"]))
    } else {
        "; rate limiting off".to_string()
    };
    println!(
        "queries: {} noerror, {} nxdomain, {} refused, {} servfail, {} formerr{limited}",
        s(&q["noerror"]),
        s(&q["nxdomain"]),
        s(&q["refused"]),
        s(&q["servfail"]),
        s(&q["formerr"])
    );
    let problems = d["not_in_sync"].as_array().cloned().unwrap_or_default();
    if problems.is_empty() {
        println!("all zones are in sync");
    } else {
        println!("\nnot in sync:");
        let rows = problems
            .iter()
            .map(|p| vec![s(&p["name"]), s(&p["state"]), s(&p["serial"]), s(&p["expires_at"]), s(&p["last_error"])])
            .collect();
        table(&["ZONE", "STATE", "SERIAL", "EXPIRES", "LAST ERROR"], rows);
    }
}

fn show_status(z: &Value) {
    let t = &z["transfer"];
    println!("zone:          {}", s(&z["name"]));
    println!("state:         {}", s(&t["state"]));
    println!("serial:        {} (primary reported {})", s(&t["serial"]), s(&t["primary_serial"]));
    println!("records:       {}", s(&t["records"]));
    println!("primaries:     {}", zone_primaries(z));
    println!("last primary:  {}", s(&t["last_primary"]));
    println!("last transfer: {}", last_transfer_line(&t["last_transfer"]));
    let err = &t["last_error"];
    if err.is_null() {
        println!("last error:    -");
    } else {
        println!("last error:    {} (at {})", s(&err["message"]), s(&err["at"]));
    }
    println!("last attempt:  {}", s(&t["last_attempt_at"]));
    println!("last success:  {}", s(&t["last_success_at"]));
    println!("next refresh:  {}", s(&t["next_refresh_at"]));
    println!("expires at:    {}", s(&t["expires_at"]));
    let n = &t["last_notify"];
    if n.is_null() {
        println!("last notify:   -");
    } else {
        println!("last notify:   from {} serial {} at {}", s(&n["from"]), s(&n["serial"]), s(&n["at"]));
    }
    let timers = &t["timers"];
    if !timers.is_null() {
        println!(
            "timers:        refresh {} s, retry {} s, expire {} s (after clamps), back-off step {}",
            s(&timers["refresh"]),
            s(&timers["retry"]),
            s(&timers["expire"]),
            s(&t["backoff"])
        );
    }
}

fn list_cell(v: &Value) -> String {
    let items: Vec<String> = v.as_array().into_iter().flatten().map(s).collect();
    if items.is_empty() {
        "-".into()
    } else {
        items.join(",")
    }
}

fn nsset_row(n: &Value) -> Vec<String> {
    vec![
        s(&n["id"]),
        s(&n["name"]),
        s(&n["hostmaster"]),
        s(&n["ns_ttl"]),
        s(&n["ip_ttl"]),
        s(&n["external_ref"]),
        if n["in_use"] == true { "yes".into() } else { "no".into() },
        list_cell(&n["nameservers"]),
    ]
}

fn show_nsset(n: &Value) {
    println!("id:           {}", s(&n["id"]));
    println!("name:         {}", s(&n["name"]));
    println!("hostmaster:   {}", s(&n["hostmaster"]));
    println!("NS TTL:       {}", s(&n["ns_ttl"]));
    println!("address TTL:  {}", s(&n["ip_ttl"]));
    println!("external ref: {}", s(&n["external_ref"]));
    println!("in use:       {}", if n["in_use"] == true { "yes" } else { "no" });
    println!("nameservers:  {}", list_cell(&n["nameservers"]).replace(',', ", "));
    println!("zones:        {}", list_cell(&n["zones"]).replace(',', ", "));
    println!("created:      {}", s(&n["created_at"]));
}

fn addresses(n: &Value) -> String {
    let items: Vec<String> = n["dns_records"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| format!("{} {}", s(&r["type"]), s(&r["value"])))
        .collect();
    if items.is_empty() {
        "-".into()
    } else {
        items.join(", ")
    }
}

fn ns_row(n: &Value) -> Vec<String> {
    vec![s(&n["ns_name"]), s(&n["ns_set"]), addresses(n)]
}

fn show_ns(n: &Value) {
    println!("name:      {}", s(&n["ns_name"]));
    println!("set:       {}", s(&n["ns_set"]));
    println!("addresses: {}", addresses(n));
    println!("created:   {}", s(&n["created_at"]));
}

/// `zone ns show`: `{zone, settings, nameservers, ns_records}`.
fn show_zone_ns(v: &Value) {
    println!("zone:        {}", s(&v["zone"]));
    let settings = &v["settings"];
    if settings.is_null() {
        println!("settings:    none: the primary's NS records are published");
    } else {
        println!(
            "settings:    names {}; sets {}",
            list_cell(&settings["ns_names"]).replace(',', ", "),
            list_cell(&settings["ns_set_ids"]).replace(',', ", ")
        );
    }
    if let Some(ttl) = v["ns_records"].as_array().and_then(|r| r.first()).map(|r| s(&r["ttl"])) {
        println!("NS TTL:      {ttl}");
    }
    let rows: Vec<Vec<String>> = v["nameservers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| {
            let note = if n["priority"] == 1 { "SOA MNAME" } else { "" };
            vec![s(&n["priority"]), s(&n["hostname"]), note.to_string()]
        })
        .collect();
    if rows.is_empty() {
        println!("nameservers: - (the zone has no data yet)");
    } else {
        println!();
        table(&["PRIORITY", "HOSTNAME", ""], rows);
    }
}

impl Ctl {
    /// The id of a nameserver set given by id or name.
    async fn set_id(&self, set: &str) -> Result<i64, Failure> {
        let resp = self.call("GET", &format!("/nameserver_sets/{}", seg(set)), None).await?;
        Ok(resp.body["data"]["id"].as_i64().unwrap_or_default())
    }

    async fn zone_ns(&self, zone: &str) -> Result<(), Failure> {
        let path = format!("/zones/{}", seg(zone));
        let records = self.call("GET", &format!("{path}/ns_records"), None).await?;
        let nameservers = self.call("GET", &format!("{path}/nameservers"), None).await?;
        let v = json!({
            "zone": zone,
            "settings": records.body["settings"],
            "nameservers": nameservers.body["data"],
            "ns_records": records.body["data"],
        });
        self.print_object(&v, show_zone_ns);
        Ok(())
    }
}

async fn run_nameservers(ctl: &Ctl, command: Command) -> Result<(), Failure> {
    match command {
        Command::Nsset(NssetCmd::Add { name, hostmaster, ns_ttl, ip_ttl, external_ref }) => {
            let mut body = json!({ "name": name });
            for (k, v) in [("hostmaster", hostmaster), ("external_ref", external_ref)] {
                if let Some(v) = v {
                    body[k] = Value::String(v);
                }
            }
            for (k, v) in [("ns_ttl", ns_ttl), ("ip_ttl", ip_ttl)] {
                if let Some(v) = v {
                    body[k] = json!(v);
                }
            }
            let resp = ctl.call("POST", "/nameserver_sets", Some(body)).await?;
            ctl.print_object(&resp.body["data"], show_nsset);
        }
        Command::Nsset(NssetCmd::List { external_ref, sort }) => {
            let mut query = format!("&sort={}", seg(&sort));
            if let Some(r) = external_ref {
                query.push_str(&format!("&external_ref={}", seg(&r)));
            }
            let items = ctl.list_all("/nameserver_sets", &query).await?;
            ctl.print_list(
                &items,
                &["ID", "NAME", "HOSTMASTER", "NS TTL", "IP TTL", "EXTERNAL REF", "IN USE", "NAMESERVERS"],
                nsset_row,
            );
        }
        Command::Nsset(NssetCmd::Show { set }) => {
            let resp = ctl.call("GET", &format!("/nameserver_sets/{}", seg(&set)), None).await?;
            ctl.print_object(&resp.body["data"], show_nsset);
        }
        Command::Nsset(NssetCmd::Update {
            set,
            name,
            hostmaster,
            no_hostmaster,
            ns_ttl,
            ip_ttl,
            external_ref,
            no_external_ref,
        }) => {
            let mut body = json!({});
            if let Some(n) = name {
                body["name"] = Value::String(n);
            }
            if let Some(h) = hostmaster {
                body["hostmaster"] = Value::String(h);
            } else if no_hostmaster {
                body["hostmaster"] = Value::Null;
            }
            if let Some(r) = external_ref {
                body["external_ref"] = Value::String(r);
            } else if no_external_ref {
                body["external_ref"] = Value::Null;
            }
            for (k, v) in [("ns_ttl", ns_ttl), ("ip_ttl", ip_ttl)] {
                if let Some(v) = v {
                    body[k] = json!(v);
                }
            }
            let resp = ctl.call("PUT", &format!("/nameserver_sets/{}", seg(&set)), Some(body)).await?;
            ctl.print_object(&resp.body["data"], show_nsset);
        }
        Command::Nsset(NssetCmd::Rm { set }) => {
            ctl.call("DELETE", &format!("/nameserver_sets/{}", seg(&set)), None).await?;
            if !ctl.json {
                println!("nameserver set {set} deleted");
            }
        }
        Command::Ns(NsCmd::Add { ns_name, set, addresses }) => {
            let set_id = ctl.set_id(&set).await?;
            let records: Vec<Value> = addresses
                .iter()
                .map(|a| json!({ "type": if a.contains(':') { "AAAA" } else { "A" }, "value": a }))
                .collect();
            let body = json!({ "ns_name": ns_name, "ns_set": set_id, "dns_records": records });
            let resp = ctl.call("POST", "/custom_ns", Some(body)).await?;
            ctl.print_object(&resp.body["data"], show_ns);
        }
        Command::Ns(NsCmd::List { set, sort }) => {
            let mut query = format!("&sort={}", seg(&sort));
            if let Some(set) = set {
                query.push_str(&format!("&ns_set={}", ctl.set_id(&set).await?));
            }
            let items = ctl.list_all("/custom_ns", &query).await?;
            ctl.print_list(&items, &["NAME", "SET", "ADDRESSES"], ns_row);
        }
        Command::Ns(NsCmd::Show { ns_name }) => {
            let resp = ctl.call("GET", &format!("/custom_ns/{}", seg(&ns_name)), None).await?;
            ctl.print_object(&resp.body["data"], show_ns);
        }
        Command::Ns(NsCmd::Rm { ns_name }) => {
            ctl.call("DELETE", &format!("/custom_ns/{}", seg(&ns_name)), None).await?;
            if !ctl.json {
                println!("custom nameserver {ns_name} deleted");
            }
        }
        Command::Zone(ZoneCmd::Ns(ZoneNsCmd::Set { zone, names, sets })) => {
            let mut ids = Vec::with_capacity(sets.len());
            for set in &sets {
                ids.push(ctl.set_id(set).await?);
            }
            let body = json!({ "ns_names": names, "ns_set_ids": ids });
            ctl.call("PUT", &format!("/zones/{}/ns_records", seg(&zone)), Some(body)).await?;
            return ctl.zone_ns(&zone).await;
        }
        Command::Zone(ZoneCmd::Ns(ZoneNsCmd::Clear { zone })) => {
            ctl.call("DELETE", &format!("/zones/{}/ns_records", seg(&zone)), None).await?;
            if !ctl.json {
                println!("zone {zone} publishes its primary's NS records again");
            }
        }
        Command::Zone(ZoneCmd::Ns(ZoneNsCmd::Show { zone })) => return ctl.zone_ns(&zone).await,
        _ => {}
    }
    Ok(())
}

async fn run(ctl: &Ctl, command: Command) -> Result<(), Failure> {
    match command {
        Command::Primary(PrimaryCmd::Add { name, ip, port, tsig_key, notify_requires_tsig }) => {
            let mut body =
                json!({ "name": name, "ip": ip, "port": port, "notify_requires_tsig": notify_requires_tsig });
            if let Some(k) = tsig_key {
                body["tsig_key"] = Value::String(k);
            }
            let resp = ctl.call("POST", "/secondary_dns/primaries", Some(body)).await?;
            ctl.print_object(&resp.body["data"], show_primary);
        }
        Command::Primary(PrimaryCmd::List { sort }) => {
            let items = ctl.list_all("/secondary_dns/primaries", &format!("&sort={}", seg(&sort))).await?;
            ctl.print_list(&items, &["ID", "NAME", "IP", "PORT", "TSIG KEY", "ZONES"], primary_row);
        }
        Command::Primary(PrimaryCmd::Show { primary }) => {
            let resp = ctl.call("GET", &format!("/secondary_dns/primaries/{}", seg(&primary)), None).await?;
            ctl.print_object(&resp.body["data"], show_primary);
        }
        Command::Primary(PrimaryCmd::Rm { primary }) => {
            ctl.call("DELETE", &format!("/secondary_dns/primaries/{}", seg(&primary)), None).await?;
            if !ctl.json {
                println!("primary server {primary} deleted");
            }
        }
        Command::Zone(ZoneCmd::Add { name }) => {
            let resp = ctl.call("POST", "/secondary_dns/zones", Some(json!({ "name": name }))).await?;
            ctl.print_object(&resp.body["data"], show_zone);
        }
        Command::Zone(ZoneCmd::List { name_like, state, sort }) => {
            let mut query = format!("&sort={}", seg(&sort));
            if let Some(st) = state {
                query.push_str(&format!("&state={}", seg(&st)));
            }
            if let Some(n) = name_like {
                query.push_str(&format!("&name_like={}", seg(&n)));
            }
            let items = ctl.list_all("/zones", &query).await?;
            ctl.print_list(
                &items,
                &["ID", "NAME", "STATE", "SERIAL", "RECORDS", "PRIMARIES", "LAST TRANSFER", "LAST ERROR"],
                zone_row,
            );
        }
        Command::Zone(ZoneCmd::Show { zone }) => {
            let resp = ctl.call("GET", &format!("/zones/{}", seg(&zone)), None).await?;
            ctl.print_object(&resp.body["data"], show_zone);
        }
        Command::Status => {
            let resp = ctl.client.get("/v2/status").await.map_err(|e| Failure::Unreachable(e.to_string()))?;
            if !resp.is_success() {
                return Err(Failure::Api(resp));
            }
            ctl.print_object(&resp.body["data"], show_daemon_status);
        }
        Command::Zone(ZoneCmd::Status { zone }) => {
            let resp = ctl.call("GET", &format!("/zones/{}", seg(&zone)), None).await?;
            ctl.print_object(&resp.body["data"], show_status);
        }
        Command::Zone(ZoneCmd::Export { zone }) => {
            let resp = ctl.call("GET", &format!("/zones/{}/file", seg(&zone)), None).await?;
            if ctl.json {
                ctl.print_object(&resp.body["data"], |_| {});
            } else {
                print!("{}", resp.body["data"]["zone"].as_str().unwrap_or_default());
            }
        }
        Command::Zone(ZoneCmd::Refresh { zone, wait }) => return refresh(ctl, &zone, "refresh", wait).await,
        Command::Zone(ZoneCmd::Retransfer { zone, wait }) => return refresh(ctl, &zone, "retransfer", wait).await,
        Command::Zone(ZoneCmd::Rm { zone }) => {
            ctl.call("DELETE", &format!("/domains/{}", seg(&zone)), None).await?;
            if !ctl.json {
                println!("zone {zone} deleted");
            }
        }
        Command::Link { primary, zone } => {
            let path = format!("/secondary_dns/primaries/{}/link", seg(&primary));
            let resp = ctl.call("PUT", &path, Some(json!({ "zone": zone }))).await?;
            ctl.print_object(&resp.body["data"], show_primary);
        }
        Command::Unlink { primary, zone } => {
            let path = format!("/secondary_dns/primaries/{}/unlink", seg(&primary));
            let resp = ctl.call("PUT", &path, Some(json!({ "zone": zone }))).await?;
            ctl.print_object(&resp.body["data"], show_primary);
        }
        command @ (Command::Nsset(_) | Command::Ns(_) | Command::Zone(ZoneCmd::Ns(_))) => {
            return run_nameservers(ctl, command).await
        }
    }
    Ok(())
}

/// Schedules a refresh; with `wait`, polls until it has run and reports how it went.
async fn refresh(ctl: &Ctl, zone: &str, what: &str, wait: bool) -> Result<(), Failure> {
    let path = format!("/zones/{}", seg(zone));
    let resp = ctl.call("POST", &format!("{path}/{what}"), None).await?;
    let before = resp.body["data"]["attempts"].as_u64().unwrap_or(0);
    if !wait {
        if ctl.json {
            ctl.print_object(&resp.body["data"], |_| {});
        } else {
            println!("{what} of {zone} scheduled");
        }
        return Ok(());
    }
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let z = ctl.call("GET", &path, None).await?.body["data"].clone();
        let t = &z["transfer"];
        let done = t["attempts"].as_u64().unwrap_or(0) > before && t["refreshing"] == false && t["queued"] == false;
        if !done {
            continue;
        }
        ctl.print_object(&z, show_status);
        return if t["last_error"].is_null() { Ok(()) } else { Err(Failure::Refused) };
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match &args.config {
        Some(path) => match Config::load(path) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("secondaryctl: {e}");
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let socket = args
        .socket
        .clone()
        .or_else(|| std::env::var_os("SECONDARYD_SOCKET").map(PathBuf::from))
        .or_else(|| config.as_ref().map(|c| c.control_socket.clone()))
        .unwrap_or_else(|| {
            if args.dev {
                PathBuf::from(DEV_DIR).join("control.sock")
            } else {
                PathBuf::from("/run/secondaryd/control.sock")
            }
        });
    let account = args
        .account
        .or_else(|| std::env::var("SECONDARYD_ACCOUNT").ok().and_then(|a| a.parse().ok()))
        .or_else(|| {
            let c = config.as_ref()?;
            let first = c.tokens.first()?.account;
            c.tokens.iter().all(|t| t.account == first).then_some(first)
        })
        .unwrap_or(1);
    let ctl = Ctl { client: Client::new(Endpoint::Unix(socket)), account, json: args.json };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("secondaryctl: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&ctl, args.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Api(resp)) => {
            if ctl.json {
                println!("{}", serde_json::to_string_pretty(&resp.body).unwrap_or_default());
            }
            eprintln!("secondaryctl: {}", resp.error_message());
            ExitCode::FAILURE
        }
        Err(Failure::Refused) => ExitCode::FAILURE,
        Err(Failure::Unreachable(e)) => {
            eprintln!("secondaryctl: {e}");
            ExitCode::from(3)
        }
    }
}
