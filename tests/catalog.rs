//! Consuming a primary's catalog zone (RFC 9432): a BIND primary serves a
//! catalog of 600 zones as a plain zone; secondaryd, given only the catalog,
//! creates the 600 member zones (a few hundred per store transaction), loads
//! them all, completes at start-up a creation a stop cut short, and deletes
//! the one removed from the catalog, while a zone created by hand is never
//! taken over.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::bind::{self, Access, Bind};
use common::{small_zone, Daemon};
use serde_json::json;

const TIMERS: &str = "3600 600 604800 300";

fn catalog_text(serial: u32, members: &[String], version: &str) -> String {
    let mut z = format!(
        "$ORIGIN catalog.test.\n$TTL 0\n@ IN SOA invalid. invalid. {serial} 60 60 2147483646 0\n@ IN NS invalid.\nversion IN TXT \"{version}\"\n"
    );
    for (i, m) in members.iter().enumerate() {
        z.push_str(&format!("m{i}.zones IN PTR {m}.\n"));
        if i == 0 {
            z.push_str(&format!("group.m{i}.zones IN TXT \"gold\"\n"));
        }
    }
    z
}

async fn zone_names(d: &Daemon) -> Vec<String> {
    let mut names = Vec::new();
    for page in 1.. {
        let r = d.call("GET", &format!("/v2/1/zones?per_page=100&page={page}"), None).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let items = common::page::<secondaryd::model::Zone>(&r).data;
        names.extend(items.iter().map(|z| z.name.clone()));
        if items.len() < 100 {
            break;
        }
    }
    names.sort();
    names
}

#[tokio::test]
async fn a_catalog_of_a_bind_primary_creates_loads_and_deletes_its_member_zones() {
    const N: usize = 600;
    let members: Vec<String> = (0..N).map(|i| format!("member{i}.test")).collect();
    let mut zones = vec![bind::Zone { name: "catalog.test", text: catalog_text(1, &members, "2") }];
    for (i, m) in members.iter().enumerate() {
        zones.push(bind::Zone { name: m, text: small_zone(m, 100 + i as u32, 2, TIMERS) });
    }
    zones.push(bind::Zone { name: "byhand.test", text: small_zone("byhand.test", 1, 2, TIMERS) });
    let mut d = Daemon::start("").await;
    let b = Bind::start(&zones, Access::Open, Some(d.dns_port)).await;

    // A zone created by hand that the catalog will list too.
    let r = d
        .call(
            "POST",
            "/v2/1/secondary_dns/primaries",
            Some(json!({ "name": "bind", "ip": "127.0.0.1", "port": b.port })),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = d.call("POST", "/v2/1/secondary_dns/zones", Some(json!({ "name": "byhand.test" }))).await;
    assert_eq!(r.status, 201, "{:?}", r.body);

    let r = d.call("POST", "/v2/1/secondary_dns/zones", Some(json!({ "name": "catalog.test", "catalog": true }))).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["data"]["catalog"], true);
    let r = d.call("PUT", "/v2/1/secondary_dns/primaries/bind/link", Some(json!({ "zone": "catalog.test" }))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    // All the members become zones linked to the catalog's primary and load.
    let started = Instant::now();
    while zone_names(&d).await.len() < N + 2 {
        assert!(started.elapsed() < Duration::from_secs(20), "the members were not created:\n{}", d.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (i, m) in members.iter().enumerate() {
        let z = d.wait_serial(m, 100 + i as u32).await;
        assert_eq!(z.primaries[0].name, "bind", "{z:?}");
    }
    let loaded = started.elapsed();
    let first = d.zone("member0.test").await;
    let member = first.catalog_member.as_ref().expect("a catalog member");
    assert_eq!(member.group.as_deref(), Some("gold"), "{first:?}");
    assert!(member.catalog_id > 0, "{first:?}");
    assert!(d.log().contains(&format!("created={N}")), "the catalog read says what it did:\n{}", d.log());

    // A stop while the last members were being created: their transaction
    // never committed (here: their rows are gone from the store). At the
    // next start the served catalog completes them, without a new version
    // of it.
    d.stop();
    {
        let db = rusqlite::Connection::open(d.store_path()).expect("open the store");
        db.pragma_update(None, "foreign_keys", "ON").expect("pragma");
        let gone = db.execute("DELETE FROM zones WHERE name GLOB 'member5[0-9][0-9].test'", []).expect("delete");
        assert_eq!(gone, 100);
    }
    d.restart().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while zone_names(&d).await.len() < N + 2 {
        assert!(Instant::now() < deadline, "the lost members were not created at start-up:\n{}", d.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (i, m) in members.iter().enumerate().skip(500) {
        let z = d.wait_serial(m, 100 + i as u32).await;
        assert_eq!(z.catalog_member.as_ref().map(|c| c.catalog_id), Some(member.catalog_id), "{z:?}");
    }
    assert!(d.log().contains("created=100"), "the start-up read of the catalog created the 100:\n{}", d.log());

    // member7 leaves the catalog, byhand.test joins it: member7 is deleted
    // with its data; byhand.test stays the hand-made zone it was.
    let mut next: Vec<String> = members.iter().filter(|m| *m != "member7.test").cloned().collect();
    next.push("byhand.test".into());
    b.update_zone("catalog.test", &catalog_text(2, &next, "2"), 2).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while zone_names(&d).await.contains(&"member7.test".to_string()) {
        assert!(Instant::now() < deadline, "member7.test was not deleted:\n{}", d.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let names = zone_names(&d).await;
    assert_eq!(names.len(), N - 1 + 2, "the other members, the catalog and byhand.test: {names:?}");
    let byhand = d.zone("byhand.test").await;
    assert!(byhand.catalog_member.is_none(), "not taken over: {byhand:?}");
    assert!(d.log().contains("catalog member not created"), "{}", d.log());
    let m7 = secondaryd::wire::Name::from_ascii("member7.test").expect("name");
    let a = secondaryd::xfr::client::query_soa(
        SocketAddr::from(([127, 0, 0, 1], d.dns_port)),
        &m7,
        None,
        Duration::from_secs(1),
    )
    .await;
    assert!(a.is_err(), "member7.test is no longer served: {a:?}");

    // A catalog of another version changes nothing.
    b.update_zone("catalog.test", &catalog_text(3, &next[..10], "3"), 3).await;
    d.wait_serial("catalog.test", 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(zone_names(&d).await.len(), N + 1, "a version 3 catalog is not read");
    assert!(d.log().contains("is not supported (only version 2, RFC 9432)"), "{}", d.log());

    // Deleting the catalog deletes its members.
    let r = d.call("DELETE", "/v2/1/domains/catalog.test", None).await;
    assert!(r.status < 300, "{:?}", r.body);
    assert_eq!(zone_names(&d).await, ["byhand.test"]);
    eprintln!("{N} member zones created and loaded in {loaded:?}");
}
