//! Nameserver sets, custom nameservers, zone NS records and zone nameservers
//! (issue 5), driven through the real daemon; the published zone checked
//! against a real BIND primary.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;

use common::bind::{self, Access, Bind};
use common::{Daemon, FAST_TIMERS};
use secondaryd::client::Response;
use serde_json::{json, Value};

const SETS: &str = "/v2/1/nameserver_sets";
const CUSTOM_NS: &str = "/v2/1/custom_ns";

async fn add_set(d: &Daemon, body: Value) -> Value {
    let r = d.call("POST", SETS, Some(body.clone())).await;
    assert_eq!(r.status, 201, "{body}: {:?}", r.body);
    r.body["data"].clone()
}

async fn add_ns(d: &Daemon, name: &str, set: i64, records: Value) -> Value {
    let r = d.call("POST", CUSTOM_NS, Some(json!({ "ns_name": name, "ns_set": set, "dns_records": records }))).await;
    assert_eq!(r.status, 201, "{name}: {:?}", r.body);
    r.body["data"].clone()
}

async fn add_zone(d: &Daemon, account: i64, name: &str) {
    let r = d.call("POST", &format!("/v2/{account}/secondary_dns/zones"), Some(json!({ "name": name }))).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
}

fn id(v: &Value) -> i64 {
    v["id"].as_i64().expect("id")
}

/// Asserts a 4xx JSON error whose `errors` names `field` and whose message mentions it.
fn assert_refused(r: &Response, status: u16, field: &str, what: &str) {
    assert_eq!(r.status, status, "{what}: {:?}", r.body);
    assert!(r.body["errors"][field].is_array(), "{what}: the error names {field}: {:?}", r.body);
    assert!(r.body["message"].is_string(), "{what}: {:?}", r.body);
}

async fn nameservers(d: &Daemon, zone: &str) -> Value {
    let r = d.call("GET", &format!("/v2/1/zones/{zone}/nameservers"), None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["data"].clone()
}

/// Everything the account has configured, to compare before and after.
async fn snapshot(d: &Daemon, zone: &str) -> Value {
    json!({
        "sets": d.call("GET", SETS, None).await.body,
        "custom_ns": d.call("GET", CUSTOM_NS, None).await.body,
        "ns_records": d.call("GET", &format!("/v2/1/zones/{zone}/ns_records"), None).await.body,
        "nameservers": nameservers(d, zone).await,
    })
}

#[tokio::test]
async fn nameserver_sets_have_documented_defaults_filters_sorting_and_partial_updates() {
    let d = Daemon::start("").await;
    let plain = add_set(&d, json!({ "name": "Plain" })).await;
    assert_eq!(plain["ns_ttl"], 86400, "default ns_ttl");
    assert_eq!(plain["ip_ttl"], 3600, "default ip_ttl");
    assert_eq!(plain["hostmaster"], Value::Null);
    assert_eq!(plain["external_ref"], Value::Null);
    assert_eq!(plain["in_use"], false);
    assert_eq!(plain["account_id"], 1);
    assert!(plain["created_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    let full = add_set(
        &d,
        json!({ "name": "Full", "hostmaster": "DNS.Admin@Example.NET", "ns_ttl": 0, "ip_ttl": 2147483647, "external_ref": "crm-7" }),
    )
    .await;
    assert_eq!(full["hostmaster"], "DNS.Admin@example.net", "the domain is lower-cased, the local part kept");
    assert_eq!((full["ns_ttl"].clone(), full["ip_ttl"].clone()), (json!(0), json!(2147483647)));
    add_set(&d, json!({ "name": "Also crm-7", "external_ref": "crm-7" })).await;

    let r = d.call("GET", &format!("{SETS}/{}", id(&full)), None).await;
    assert_eq!(r.body["data"], full);
    let r = d.call("GET", &format!("{SETS}/Full"), None).await;
    assert_eq!(r.body["data"]["id"], full["id"], "a set can be named by its name too");

    let r = d.call("GET", &format!("{SETS}?external_ref=crm-7&sort=name:asc"), None).await;
    let names: Vec<&str> = r.body["data"].as_array().expect("list").iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names, ["Also crm-7", "Full"]);
    assert_eq!(r.body["pagination"]["total_entries"], 2);
    let r = d.call("GET", &format!("{SETS}?sort=id:desc&per_page=2&page=2"), None).await;
    assert_eq!(r.body["data"][0]["name"], "Plain");
    assert_eq!(r.body["pagination"], json!({"current_page": 2, "per_page": 2, "total_entries": 3, "total_pages": 2}));

    let r = d.call("PUT", &format!("{SETS}/{}", id(&full)), Some(json!({ "ns_ttl": 300, "hostmaster": null }))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["data"]["ns_ttl"], 300);
    assert_eq!(r.body["data"]["hostmaster"], Value::Null, "null clears the hostmaster");
    assert_eq!(r.body["data"]["ip_ttl"], 2147483647, "fields not given stay");
    assert_eq!(r.body["data"]["external_ref"], "crm-7");

    assert_eq!(d.call("DELETE", &format!("{SETS}/{}", id(&plain)), None).await.status, 204);
    let r = d.call("GET", &format!("{SETS}/{}", id(&plain)), None).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["message"], format!("Nameserver set `{}` not found", id(&plain)));
    assert_eq!(d.call("PUT", &format!("{SETS}/999"), Some(json!({ "ns_ttl": 1 }))).await.status, 404);
    assert_eq!(d.call("DELETE", &format!("{SETS}/999"), None).await.status, 404);
    assert_eq!(d.call("GET", "/v2/2/nameserver_sets/Full", None).await.status, 404, "other accounts do not see it");
}

#[tokio::test]
async fn bad_nameserver_set_input_is_refused_naming_the_field_and_changes_nothing() {
    let d = Daemon::start("").await;
    let set = add_set(&d, json!({ "name": "main", "hostmaster": "ops@example.net" })).await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "name"),
        (json!({ "name": "" }), "name"),
        (json!({ "name": "42" }), "name"),
        (json!({ "name": "main" }), "name"),
        (json!({ "name": "x", "hostmaster": "not-an-address" }), "hostmaster"),
        (json!({ "name": "x", "hostmaster": "a b@example.net" }), "hostmaster"),
        (json!({ "name": "x", "hostmaster": "ops@localhost" }), "hostmaster"),
        (json!({ "name": "x", "hostmaster": 7 }), "hostmaster"),
        (json!({ "name": "x", "ns_ttl": -1 }), "ns_ttl"),
        (json!({ "name": "x", "ns_ttl": 2147483648u64 }), "ns_ttl"),
        (json!({ "name": "x", "ip_ttl": "3600" }), "ip_ttl"),
        (json!({ "name": "x", "ip_ttl": 1.5 }), "ip_ttl"),
        (json!({ "name": "x", "external_ref": "r".repeat(256) }), "external_ref"),
        (json!({ "name": "x", "colour": "red" }), "colour"),
    ];
    for (body, field) in cases {
        let r = d.call("POST", SETS, Some(body.clone())).await;
        assert_refused(&r, 400, field, &body.to_string());
        assert!(r.body["message"].as_str().is_some_and(|m| m.contains(field)), "{body}: {:?}", r.body);
    }
    let other = add_set(&d, json!({ "name": "other" })).await;
    let path = format!("{SETS}/{}", id(&set));
    for (body, field) in [
        (json!({ "name": null }), "name"),
        (json!({ "name": "other" }), "name"),
        (json!({ "hostmaster": "nobody" }), "hostmaster"),
        (json!({ "ip_ttl": -5 }), "ip_ttl"),
        (json!({ "ns_ttl": 60, "bogus": 1 }), "bogus"),
    ] {
        let r = d.call("PUT", &path, Some(body.clone())).await;
        assert_refused(&r, 400, field, &body.to_string());
    }
    let r = d.call("GET", SETS, None).await;
    assert_eq!(r.body["data"], json!([set, other]), "no refused request changed or created a set");
}

#[tokio::test]
async fn custom_nameservers_have_their_shape_and_bad_input_is_refused_naming_the_field() {
    let d = Daemon::start("").await;
    let set = add_set(&d, json!({ "name": "vanity" })).await;
    let theirs = {
        let r = d.call("POST", "/v2/2/nameserver_sets", Some(json!({ "name": "theirs" }))).await;
        assert_eq!(r.status, 201);
        r.body["data"].clone()
    };
    let ns = add_ns(
        &d,
        "NS1.Example.COM.",
        id(&set),
        json!([{ "type": "A", "value": "198.51.100.1" }, { "type": "aaaa", "value": "2001:DB8:0::1" }]),
    )
    .await;
    assert_eq!(ns["ns_name"], "ns1.example.com");
    assert_eq!(ns["ns_set"], set["id"]);
    assert_eq!(
        ns["dns_records"],
        json!([{ "type": "A", "value": "198.51.100.1" }, { "type": "AAAA", "value": "2001:db8::1" }]),
        "types upper-case, addresses canonical"
    );
    assert!(ns["created_at"].is_string() && ns["updated_at"].is_string());
    let bare = add_ns(&d, "ns2.example.com", id(&set), json!([])).await;
    assert_eq!(bare["dns_records"], json!([]));

    let r = d.call("GET", &format!("{CUSTOM_NS}/ns1.EXAMPLE.com."), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["data"], ns);
    let r = d.call("GET", &format!("{CUSTOM_NS}?ns_set={}&sort=name:desc", id(&set)), None).await;
    let names: Vec<&str> =
        r.body["data"].as_array().expect("list").iter().filter_map(|n| n["ns_name"].as_str()).collect();
    assert_eq!(names, ["ns2.example.com", "ns1.example.com"]);
    let r = d.call("GET", &format!("{SETS}/{}", id(&set)), None).await;
    assert_eq!(r.body["data"]["in_use"], true, "a set with nameservers is in use");
    assert_eq!(r.body["data"]["nameservers"], json!(["ns1.example.com", "ns2.example.com"]));

    let s = id(&set);
    let cases: Vec<(Value, &str)> = vec![
        (json!({ "ns_set": s }), "ns_name"),
        (json!({ "ns_name": "ns_3.example.com", "ns_set": s }), "ns_name"),
        (json!({ "ns_name": "ns3", "ns_set": s }), "ns_name"),
        (json!({ "ns_name": "192.0.2.1", "ns_set": s }), "ns_name"),
        (json!({ "ns_name": "ns1.example.com", "ns_set": s }), "ns_name"),
        (json!({ "ns_name": "ns3.example.com" }), "ns_set"),
        (json!({ "ns_name": "ns3.example.com", "ns_set": "vanity" }), "ns_set"),
        (json!({ "ns_name": "ns3.example.com", "ns_set": 999 }), "ns_set"),
        (json!({ "ns_name": "ns3.example.com", "ns_set": id(&theirs) }), "ns_set"),
        (json!({ "ns_name": "ns3.example.com", "ns_set": s, "dns_records": "192.0.2.1" }), "dns_records"),
        (
            json!({ "ns_name": "ns3.example.com", "ns_set": s, "dns_records": [{ "type": "A", "value": "2001:db8::1" }] }),
            "dns_records",
        ),
        (
            json!({ "ns_name": "ns3.example.com", "ns_set": s, "dns_records": [{ "type": "AAAA", "value": "192.0.2.1" }] }),
            "dns_records",
        ),
        (
            json!({ "ns_name": "ns3.example.com", "ns_set": s, "dns_records": [{ "type": "A", "value": "192.0.2.300" }] }),
            "dns_records",
        ),
        (
            json!({ "ns_name": "ns3.example.com", "ns_set": s, "dns_records": [{ "type": "A", "value": "0.0.0.0" }] }),
            "dns_records",
        ),
        (
            json!({ "ns_name": "ns3.example.com", "ns_set": s, "dns_records": [{ "type": "MX", "value": "192.0.2.1" }] }),
            "dns_records",
        ),
        (
            json!({ "ns_name": "ns3.example.com", "ns_set": s, "dns_records": [{ "value": "192.0.2.1" }] }),
            "dns_records",
        ),
        (
            json!({ "ns_name": "ns3.example.com", "ns_set": s, "dns_records": [{ "type": "A", "value": "192.0.2.1", "ttl": 5 }] }),
            "dns_records",
        ),
        (
            json!({ "ns_name": "ns3.example.com", "ns_set": s, "dns_records": [
                { "type": "A", "value": "192.0.2.1" }, { "type": "A", "value": "192.0.2.1" }] }),
            "dns_records",
        ),
        (json!({ "ns_name": "ns3.example.com", "ns_set": s, "status": "verified" }), "status"),
    ];
    for (body, field) in cases {
        let r = d.call("POST", CUSTOM_NS, Some(body.clone())).await;
        assert_refused(&r, 400, field, &body.to_string());
    }
    let r = d.call("GET", CUSTOM_NS, None).await;
    assert_eq!(r.body["pagination"]["total_entries"], 2, "no refused request created a nameserver");

    let r = d.call("GET", &format!("{CUSTOM_NS}/ns9.example.com"), None).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["message"], "Custom nameserver `ns9.example.com` not found");
    assert_eq!(d.call("GET", "/v2/2/custom_ns/ns1.example.com", None).await.status, 404);
    assert_eq!(d.call("DELETE", &format!("{CUSTOM_NS}/ns2.example.com"), None).await.status, 204);
    assert_eq!(d.call("DELETE", &format!("{CUSTOM_NS}/ns2.example.com"), None).await.status, 404);
}

#[tokio::test]
async fn zone_ns_records_answer_the_resulting_ns_and_nameservers_list_them_in_priority_order() {
    let d = Daemon::start("").await;
    add_zone(&d, 1, "example.com").await;
    let main = add_set(&d, json!({ "name": "main", "ns_ttl": 7200 })).await;
    let second = add_set(&d, json!({ "name": "second" })).await;
    add_ns(&d, "ns1.example.com", id(&main), json!([{ "type": "A", "value": "198.51.100.1" }])).await;
    add_ns(&d, "ns2.example.com", id(&main), json!([])).await;
    add_ns(&d, "ns3.example.net", id(&second), json!([])).await;
    // Without settings and without data there is nothing to delegate to yet.
    assert_eq!(nameservers(&d, "example.com").await, json!([]));

    let body = json!({ "ns_names": ["NS.Provider.TEST.", "ns2.example.com"], "ns_set_ids": [id(&main), id(&second)] });
    let r = d.call("PUT", "/v2/1/zones/example.com/ns_records", Some(body)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let records = r.body["data"].as_array().expect("NS records");
    let contents: Vec<&str> = records.iter().filter_map(|r| r["content"].as_str()).collect();
    assert_eq!(contents, ["ns.provider.test", "ns2.example.com", "ns1.example.com", "ns3.example.net"]);
    for rec in records {
        assert_eq!(rec["type"], "NS");
        assert_eq!(rec["name"], "");
        assert_eq!(rec["zone_id"], "example.com");
        assert_eq!(rec["ttl"], 7200, "the first set's ns_ttl");
        assert_eq!(rec["system_record"], true);
        assert!(rec["id"].as_i64().is_some_and(|i| i > 0), "{rec}");
    }
    assert_eq!(
        nameservers(&d, "example.com").await,
        json!([
            { "hostname": "ns.provider.test", "priority": 1 },
            { "hostname": "ns2.example.com", "priority": 2 },
            { "hostname": "ns1.example.com", "priority": 3 },
            { "hostname": "ns3.example.net", "priority": 4 },
        ])
    );
    let r = d.call("GET", "/v2/1/zones/example.com/ns_records", None).await;
    assert_eq!(
        r.body["settings"],
        json!({ "ns_names": ["ns.provider.test", "ns2.example.com"], "ns_set_ids": [id(&main), id(&second)] })
    );
    let r = d.call("GET", &format!("{SETS}/{}", id(&second)), None).await;
    assert_eq!(r.body["data"]["zones"], json!(["example.com"]));

    // Every refusal leaves the settings as they were.
    let before = snapshot(&d, "example.com").await;
    let empty_set = add_set(&d, json!({ "name": "empty" })).await;
    let theirs = d.call("POST", "/v2/2/nameserver_sets", Some(json!({ "name": "theirs" }))).await.body["data"].clone();
    add_zone(&d, 2, "theirs.example").await;
    let put = |zone: &str| format!("/v2/1/zones/{zone}/ns_records");
    for (zone, body, status, field) in [
        ("example.com", json!({ "ns_set_ids": [999] }), 404, "ns_set_ids"),
        ("example.com", json!({ "ns_set_ids": [id(&theirs)] }), 404, "ns_set_ids"),
        ("example.com", json!({ "ns_names": ["ns.ok.test"], "ns_set_ids": [id(&main), 999] }), 404, "ns_set_ids"),
        ("example.com", json!({ "ns_names": ["bad name.test"] }), 400, "ns_names"),
        ("example.com", json!({ "ns_names": ["single"] }), 400, "ns_names"),
        ("example.com", json!({ "ns_names": ["a.test", "A.test."] }), 400, "ns_names"),
        ("example.com", json!({ "ns_names": "a.test" }), 400, "ns_names"),
        ("example.com", json!({ "ns_names": [5] }), 400, "ns_names"),
        ("example.com", json!({ "ns_set_ids": ["main"] }), 400, "ns_set_ids"),
        ("example.com", json!({ "ns_set_ids": [id(&main), id(&main)] }), 400, "ns_set_ids"),
        ("example.com", json!({}), 400, "ns_names"),
        ("example.com", json!({ "ns_names": [], "ns_set_ids": [] }), 400, "ns_names"),
        ("example.com", json!({ "ns_set_ids": [id(&empty_set)] }), 400, "ns_set_ids"),
        ("example.com", json!({ "ns_names": ["a.test"], "extra": true }), 400, "extra"),
    ] {
        let r = d.call("PUT", &put(zone), Some(body.clone())).await;
        assert_refused(&r, status, field, &body.to_string());
    }
    for zone in ["missing.example", "theirs.example"] {
        let r = d.call("PUT", &put(zone), Some(json!({ "ns_names": ["a.test"] }))).await;
        assert_eq!(r.status, 404, "{zone}: {:?}", r.body);
        assert_eq!(r.body["message"], format!("Zone `{zone}` not found"));
        assert_eq!(d.call("GET", &format!("/v2/1/zones/{zone}/nameservers"), None).await.status, 404);
        assert_eq!(d.call("DELETE", &put(zone), None).await.status, 404);
    }
    assert_eq!(d.call("DELETE", &format!("{SETS}/{}", id(&empty_set)), None).await.status, 204);
    assert_eq!(snapshot(&d, "example.com").await, before, "refused requests changed nothing");

    // Bare names only: the NS TTL falls back to a day (no primary data yet).
    let r = d.call("PUT", &put("example.com"), Some(json!({ "ns_names": ["a.ns.test", "b.ns.test"] }))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["data"][1]["ttl"], 86400);
    assert_eq!(r.body["data"].as_array().map(Vec::len), Some(2));

    assert_eq!(d.call("DELETE", &put("example.com"), None).await.status, 204);
    assert_eq!(nameservers(&d, "example.com").await, json!([]), "back to the primary's (none yet)");
    let r = d.call("GET", &put("example.com"), None).await;
    assert_eq!(r.body["settings"], Value::Null);
    assert_eq!(r.body["data"], json!([]));
}

#[tokio::test]
async fn deleting_a_set_in_use_fails_with_409_naming_its_users_and_leaves_everything_unchanged() {
    let d = Daemon::start("").await;
    add_zone(&d, 1, "example.com").await;
    let set = add_set(&d, json!({ "name": "main", "hostmaster": "ops@example.com" })).await;
    add_ns(&d, "ns1.example.com", id(&set), json!([{ "type": "A", "value": "198.51.100.1" }])).await;
    let r = d.call("PUT", "/v2/1/zones/example.com/ns_records", Some(json!({ "ns_set_ids": [id(&set)] }))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let before = snapshot(&d, "example.com").await;

    let r = d.call("DELETE", &format!("{SETS}/{}", id(&set)), None).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    let message = r.body["message"].as_str().expect("message");
    assert!(
        message.contains("main") && message.contains("ns1.example.com") && message.contains("example.com"),
        "{message}"
    );
    // Its only nameserver cannot go either: the zone would have no NS records.
    let r = d.call("DELETE", &format!("{CUSTOM_NS}/ns1.example.com"), None).await;
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert!(r.body["message"].as_str().is_some_and(|m| m.contains("example.com")), "{:?}", r.body);
    assert_eq!(snapshot(&d, "example.com").await, before, "the refused deletes changed nothing");

    // In the right order everything goes.
    assert_eq!(d.call("DELETE", "/v2/1/zones/example.com/ns_records", None).await.status, 204);
    assert_eq!(d.call("DELETE", &format!("{SETS}/{}", id(&set)), None).await.status, 409, "it still has a nameserver");
    assert_eq!(d.call("DELETE", &format!("{CUSTOM_NS}/ns1.example.com"), None).await.status, 204);
    let r = d.call("GET", &format!("{SETS}/{}", id(&set)), None).await;
    assert_eq!(r.body["data"]["in_use"], false);
    assert_eq!(d.call("DELETE", &format!("{SETS}/{}", id(&set)), None).await.status, 204);
}

#[tokio::test]
async fn nameserver_settings_survive_a_daemon_restart() {
    let mut d = Daemon::start("").await;
    add_zone(&d, 1, "example.com").await;
    let set = add_set(&d, json!({ "name": "main", "hostmaster": "ops@example.com", "external_ref": "x" })).await;
    add_ns(&d, "ns1.example.com", id(&set), json!([{ "type": "AAAA", "value": "2001:db8::53" }])).await;
    let body = json!({ "ns_names": ["ns.provider.test"], "ns_set_ids": [id(&set)] });
    assert_eq!(d.call("PUT", "/v2/1/zones/example.com/ns_records", Some(body)).await.status, 200);
    let before = snapshot(&d, "example.com").await;
    d.restart().await;
    assert_eq!(snapshot(&d, "example.com").await, before);
    assert_eq!(nameservers(&d, "example.com").await[0]["hostname"], "ns.provider.test");
}

/// A zone as BIND serves it: apex NS, glue for ns1, an A record at a name
/// that becomes a vanity nameserver, a delegation.
fn primary_zone(serial: u32, www: &str) -> String {
    format!(
        r#"$ORIGIN vanity.test.
$TTL 3600
@        IN SOA ns1.vanity.test. hostmaster.vanity.test. {serial} 3600 600 604800 300
@        IN NS  ns1.vanity.test.
@        IN NS  ns2.elsewhere.test.
@        IN A   192.0.2.1
@        IN MX  10 mail.vanity.test.
ns1      IN A   192.0.2.53
vanity1  IN A   192.0.2.60
vanity1  IN TXT "kept"
www      IN A   {www}
sub      IN NS  ns.sub.vanity.test.
ns.sub   IN A   192.0.2.77
"#
    )
}

fn set_of(lines: &[String]) -> BTreeSet<String> {
    lines.iter().cloned().collect()
}

fn strings(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Our export and BIND's AXFR differ in exactly the records the settings replace.
fn assert_differs_only_in_ns_records(ours: &[String], theirs: &[String], serial: u32) {
    let (ours, theirs) = (set_of(ours), set_of(theirs));
    let only_theirs: BTreeSet<String> = theirs.difference(&ours).cloned().collect();
    let only_ours: BTreeSet<String> = ours.difference(&theirs).cloned().collect();
    assert_eq!(
        only_theirs,
        strings(&[
            &format!("vanity.test. 3600 IN SOA ns1.vanity.test. hostmaster.vanity.test. {serial} 3600 600 604800 300"),
            "vanity.test. 3600 IN NS ns1.vanity.test.",
            "vanity.test. 3600 IN NS ns2.elsewhere.test.",
            "vanity1.vanity.test. 3600 IN A 192.0.2.60",
        ]),
        "what the settings replace"
    );
    assert_eq!(
        only_ours,
        strings(&[
            &format!(
                "vanity.test. 3600 IN SOA ns.provider.test. dns\\.admin.example.net. {serial} 3600 600 604800 300"
            ),
            "vanity.test. 7200 IN NS ns.provider.test.",
            "vanity.test. 7200 IN NS vanity1.vanity.test.",
            "vanity.test. 7200 IN NS vanity2.vanity.test.",
            "vanity.test. 7200 IN NS ns3.provider.test.",
            "vanity1.vanity.test. 600 IN A 198.51.100.1",
            "vanity1.vanity.test. 600 IN AAAA 2001:db8::1",
            "vanity2.vanity.test. 600 IN A 198.51.100.2",
        ]),
        "what the settings publish: NS with ns_ttl, in-zone glue with ip_ttl (none for ns3.provider.test), \
         SOA MNAME/RNAME with the primary's serial"
    );
}

#[tokio::test]
async fn a_bind_loaded_zone_is_published_with_the_configured_ns_glue_and_soa_across_refresh_and_restart() {
    let zone = "vanity.test";
    let b = Bind::start(&[bind::Zone { name: zone, text: primary_zone(100, "192.0.2.80") }], Access::Open, None).await;
    let mut d = Daemon::start(FAST_TIMERS).await;
    d.add_linked("bind", SocketAddr::from(([127, 0, 0, 1], b.port)), None, zone).await;
    d.wait_serial(zone, 100).await;
    assert_eq!(
        nameservers(&d, zone).await,
        json!([{ "hostname": "ns1.vanity.test", "priority": 1 }, { "hostname": "ns2.elsewhere.test", "priority": 2 }]),
        "without settings: the primary's NS, the SOA MNAME first"
    );

    let set =
        add_set(&d, json!({ "name": "vanity", "hostmaster": "dns.admin@example.net", "ns_ttl": 7200, "ip_ttl": 600 }))
            .await;
    let s = id(&set);
    add_ns(
        &d,
        "vanity1.vanity.test",
        s,
        json!([{ "type": "A", "value": "198.51.100.1" }, { "type": "AAAA", "value": "2001:db8::1" }]),
    )
    .await;
    add_ns(&d, "vanity2.vanity.test", s, json!([{ "type": "A", "value": "198.51.100.2" }])).await;
    add_ns(&d, "ns3.provider.test", s, json!([{ "type": "A", "value": "203.0.113.3" }])).await;
    let body = json!({ "ns_names": ["ns.provider.test"], "ns_set_ids": [s] });
    let r = d.call("PUT", &format!("/v2/1/zones/{zone}/ns_records"), Some(body)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["data"].as_array().map(Vec::len), Some(4));

    let ours = bind::canonical(zone, &d.export(zone).await);
    let theirs = bind::canonical(zone, &b.dig_axfr(zone));
    assert_differs_only_in_ns_records(&ours, &theirs, 100);

    // The records listing is the same published zone, paginated.
    let r = d.call("GET", &format!("/v2/1/zones/{zone}/records?per_page=5"), None).await;
    assert_eq!(r.body["pagination"]["total_entries"], ours.len(), "{:?}", r.body["pagination"]);
    assert_eq!(r.body["data"][0]["type"], "SOA");
    assert_eq!(r.body["data"][0]["content"], "ns.provider.test dns\\.admin.example.net 100 3600 600 604800 300");
    let mut listed = Vec::new();
    for page in 1..=r.body["pagination"]["total_pages"].as_u64().expect("pages") {
        let r = d.call("GET", &format!("/v2/1/zones/{zone}/records?per_page=5&page={page}"), None).await;
        listed.extend(r.body["data"].as_array().expect("records").iter().filter_map(|r| r["id"].as_i64()));
    }
    assert_eq!(listed.iter().collect::<BTreeSet<_>>().len(), ours.len(), "every record once across the pages");
    let r = d.call("GET", &format!("/v2/1/zones/{zone}/records?type=NS"), None).await;
    let ns: Vec<(String, bool)> = r.body["data"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| {
            (
                format!("{} {}", r["name"].as_str().unwrap_or("?"), r["content"].as_str().unwrap_or("?")),
                r["system_record"] == true,
            )
        })
        .collect();
    assert_eq!(
        ns,
        [
            (" ns.provider.test".to_string(), true),
            (" vanity1.vanity.test".to_string(), true),
            (" vanity2.vanity.test".to_string(), true),
            (" ns3.provider.test".to_string(), true),
            ("sub ns.sub.vanity.test".to_string(), false),
        ]
    );
    let r = d.call("GET", &format!("/v2/1/zones/{zone}/records?name=vanity1"), None).await;
    let at_vanity1: BTreeSet<String> = r.body["data"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| format!("{} {} {}", r["type"].as_str().unwrap_or("?"), r["ttl"], r["content"].as_str().unwrap_or("?")))
        .collect();
    assert_eq!(at_vanity1, strings(&["A 600 198.51.100.1", "AAAA 600 2001:db8::1", "TXT 3600 \"kept\""]));
    assert_eq!(nameservers(&d, zone).await[0], json!({ "hostname": "ns.provider.test", "priority": 1 }));

    // A new serial from the primary is published with the settings re-applied.
    b.update_zone(zone, &primary_zone(101, "192.0.2.81"), 101).await;
    assert_eq!(d.call("POST", &format!("/v2/1/zones/{zone}/refresh"), None).await.status, 202);
    d.wait_serial(zone, 101).await;
    let ours = bind::canonical(zone, &d.export(zone).await);
    let theirs = bind::canonical(zone, &b.dig_axfr(zone));
    assert!(ours.contains(&"www.vanity.test. 3600 IN A 192.0.2.81".to_string()), "the refresh arrived: {ours:#?}");
    assert_differs_only_in_ns_records(&ours, &theirs, 101);

    // And after a restart of the daemon.
    d.restart().await;
    let ours = bind::canonical(zone, &d.export(zone).await);
    assert_differs_only_in_ns_records(&ours, &theirs, 101);

    // Cleared: the primary's zone exactly, which the store kept all along.
    assert_eq!(d.call("DELETE", &format!("/v2/1/zones/{zone}/ns_records"), None).await.status, 204);
    assert_eq!(bind::canonical(zone, &d.export(zone).await), theirs);
    assert_eq!(nameservers(&d, zone).await[0], json!({ "hostname": "ns1.vanity.test", "priority": 1 }));
}

#[tokio::test]
async fn secondaryctl_manages_sets_custom_nameservers_and_zone_nameservers() {
    let d = Daemon::start("").await;
    add_zone(&d, 1, "example.com").await;
    let (code, out, err) =
        d.ctl(&["nsset", "add", "Main", "--hostmaster", "ops@example.com", "--ns-ttl", "7200", "--external-ref", "r1"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("NS TTL:       7200") && out.contains("ops@example.com"), "{out}");
    let (code, out, err) = d.ctl(&[
        "ns",
        "add",
        "ns1.example.com",
        "--set",
        "Main",
        "--address",
        "198.51.100.1",
        "--address",
        "2001:db8::1",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("A 198.51.100.1, AAAA 2001:db8::1"), "{out}");
    let (code, _, err) = d.ctl(&["ns", "add", "ns2.example.com", "--set", "Main"]);
    assert_eq!(code, 0, "{err}");

    let (code, out, _) = d.ctl(&["nsset", "list"]);
    assert_eq!(code, 0);
    assert!(out.lines().next().is_some_and(|h| h.starts_with("ID")), "a table: {out}");
    assert!(out.contains("Main") && out.contains("ns1.example.com,ns2.example.com") && out.contains("yes"), "{out}");
    let (code, out, _) = d.ctl(&["--json", "ns", "list", "--set", "Main"]);
    assert_eq!(code, 0);
    let list: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(list.as_array().map(Vec::len), Some(2));
    let (code, out, _) = d.ctl(&["ns", "show", "NS1.example.com."]);
    assert_eq!(code, 0);
    assert!(out.contains("ns1.example.com"), "{out}");

    let (code, out, err) = d.ctl(&["zone", "ns", "set", "example.com", "--name", "ns.provider.test", "--set", "Main"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1         ns.provider.test  SOA MNAME"), "{out}");
    assert!(out.contains("3         ns2.example.com"), "{out}");
    assert!(out.contains("NS TTL:      7200"), "{out}");
    let (code, out, _) = d.ctl(&["--json", "zone", "ns", "show", "example.com"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["nameservers"][1], json!({ "hostname": "ns1.example.com", "priority": 2 }));
    assert_eq!(v["settings"]["ns_names"], json!(["ns.provider.test"]));

    let (code, _, err) = d.ctl(&["nsset", "rm", "Main"]);
    assert_eq!(code, 1, "a set in use is not deleted");
    assert!(err.contains("in use") && err.contains("HTTP 409"), "{err}");
    let (code, _, err) = d.ctl(&["zone", "ns", "set", "example.com", "--name", "bad_name.test"]);
    assert_eq!(code, 1);
    assert!(err.contains("ns_names"), "{err}");
    let (code, out, _) = d.ctl(&["nsset", "update", "Main", "--no-hostmaster", "--ip-ttl", "60"]);
    assert_eq!(code, 0);
    assert!(out.contains("hostmaster:   -") && out.contains("address TTL:  60"), "{out}");

    assert_eq!(d.ctl(&["zone", "ns", "clear", "example.com"]).0, 0);
    let (_, out, _) = d.ctl(&["zone", "ns", "show", "example.com"]);
    assert!(out.contains("settings:    none"), "{out}");
    assert_eq!(d.ctl(&["ns", "rm", "ns1.example.com"]).0, 0);
    assert_eq!(d.ctl(&["ns", "rm", "ns2.example.com"]).0, 0);
    assert_eq!(d.ctl(&["nsset", "rm", "Main"]).0, 0);
    let (_, out, _) = d.ctl(&["--json", "nsset", "list"]);
    assert_eq!(serde_json::from_str::<Value>(&out).expect("json"), json!([]));
}
