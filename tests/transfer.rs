//! Zone transfers from a real BIND primary: AXFR, IXFR, fallback, TSIG.

mod common;

use common::bind::{self, Access, Bind, KEY_NAME, KEY_SECRET};
use common::{last_error, last_kind, rich_zone, small_zone, Daemon};
use secondaryd::model::ZoneState;
use std::net::SocketAddr;

fn key_config(name: &str, secret: &str) -> String {
    format!("[[tsig_key]]\nname = \"{name}\"\nsecret = \"{secret}\"\n")
}

fn bind_addr(b: &Bind) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], b.port))
}

#[tokio::test]
async fn axfr_with_tsig_copies_every_record_type_exactly_as_bind_serves_it() {
    let b = Bind::start(&[bind::Zone { name: "example.test", text: rich_zone(2024010101) }], Access::Tsig, None).await;
    let d = Daemon::start(&key_config(KEY_NAME, KEY_SECRET)).await;
    d.add_linked("bind", bind_addr(&b), Some(KEY_NAME), "example.test").await;
    let z = d.wait_serial("example.test", 2024010101).await;
    let t = &z.transfer;
    assert_eq!(t.state, ZoneState::Ok, "{t:#?}");
    assert_eq!(last_kind(&z), Some("AXFR"));
    assert_eq!(t.last_error, None);
    assert!(z.last_transferred_at.is_some());

    let ours = bind::canonical("example.test", &d.export("example.test").await);
    let theirs = bind::canonical("example.test", &b.dig_axfr("example.test"));
    assert_eq!(ours, theirs, "our export differs from BIND's AXFR");
    assert_eq!(t.records, theirs.len() as u64);

    // DNSimple ZoneRecords: names relative, MX priority apart, filters.
    let r = d.call("GET", "/v2/1/zones/example.test/records?type=MX", None).await;
    let mx = r.body["data"].as_array().expect("records");
    assert_eq!(mx.len(), 2);
    assert_eq!(mx[0]["name"], "");
    assert_eq!(mx[0]["priority"], 10);
    assert_eq!(mx[0]["content"], "mail.example.test");
    assert_eq!(mx[0]["zone_id"], "example.test");
    let r = d.call("GET", "/v2/1/zones/example.test/records?name=ns.sub", None).await;
    assert_eq!(r.body["pagination"]["total_entries"], 2, "{:?}", r.body);
    let r = d.call("GET", "/v2/1/zones/example.test/records?type=SOA", None).await;
    assert_eq!(r.body["data"][0]["system_record"], true);
    let r = d.call("GET", "/v2/1/zones/example.test/records?type=BOGUS", None).await;
    assert_eq!(r.status, 400);

    let r = d.call("GET", "/v2/1/zones/example.test/distribution", None).await;
    assert_eq!(r.body["data"]["distributed"], true, "{:?}", r.body);
}

#[tokio::test]
async fn a_few_changes_arrive_by_ixfr_and_an_unchanged_zone_is_not_transferred() {
    let zone = "ixfr.test";
    let timers = "3600 600 604800 300";
    let mut b =
        Bind::start(&[bind::Zone { name: zone, text: small_zone(zone, 10, 200, timers) }], Access::Open, None).await;
    let d = Daemon::start("").await;
    d.add_linked("bind", bind_addr(&b), None, zone).await;
    d.wait_serial(zone, 10).await;

    // Up to date: the refresh only asks for the SOA.
    let before = d.zone(zone).await;
    let attempts = before.transfer.attempts;
    assert_eq!(d.call("POST", &format!("/v2/1/zones/{zone}/refresh"), None).await.status, 202);
    let after = d.wait_attempt(zone, attempts).await;
    assert_eq!(after.transfer.last_transfer, before.transfer.last_transfer, "no transfer happened");
    assert_eq!(after.transfer.serial, Some(10));

    // A few changes: BIND (ixfr-from-differences) serves them as IXFR.
    let changed = small_zone(zone, 11, 200, timers)
        .replace("h7 IN A 10.0.0.8", "h7 IN A 10.99.99.99")
        .replace("h9 IN A 10.0.0.10\n", "")
        + "new IN AAAA 2001:db8::beef\n";
    b.update_zone(zone, &changed, 11).await;
    d.call("POST", &format!("/v2/1/zones/{zone}/refresh"), None).await;
    let z = d.wait_serial(zone, 11).await;
    assert_eq!(last_kind(&z), Some("IXFR"), "{:#?}", z.transfer);
    let file = d.export(zone).await;
    assert_eq!(bind::canonical(zone, &file), bind::canonical(zone, &b.dig_axfr(zone)));
    let first = file.lines().find(|l| !l.starts_with('$')).unwrap_or_default();
    assert!(first.contains(" SOA ") && first.contains(" 11 "), "the SOA comes first, as after an AXFR: {file}");
    assert_eq!(z.transfer.records, 203, "200 A + SOA + NS + ns1 - 1 deleted + 1 added");

    // BIND restarted from a new file without its journal: IXFR from 11 cannot be
    // answered as a diff, so the copy arrives whole.
    b.stop();
    for entry in std::fs::read_dir(b.dir.path()).expect("dir").flatten() {
        if entry.path().extension().is_some_and(|e| e == "jnl") {
            std::fs::remove_file(entry.path()).expect("remove journal");
        }
    }
    std::fs::write(b.dir.path().join(format!("{zone}.zone")), small_zone(zone, 20, 150, timers)).expect("write");
    b.start_again().await;
    d.call("POST", &format!("/v2/1/zones/{zone}/refresh"), None).await;
    let z = d.wait_serial(zone, 20).await;
    assert_eq!(last_kind(&z), Some("IXFR→AXFR"), "{:#?}", z.transfer);
    assert_eq!(bind::canonical(zone, &d.export(zone).await), bind::canonical(zone, &b.dig_axfr(zone)));

    // A forced retransfer is a plain AXFR even when nothing changed.
    let attempts = z.transfer.attempts;
    assert_eq!(d.call("POST", &format!("/v2/1/zones/{zone}/retransfer"), None).await.status, 202);
    let z = d.wait_attempt(zone, attempts).await;
    assert_eq!(last_kind(&z), Some("AXFR"));
    assert_eq!(z.transfer.records, 153);
}

#[tokio::test]
async fn tsig_a_wrong_key_or_none_fails_with_a_clear_error_and_keeps_nothing() {
    let zone = "signed.test";
    let b = Bind::start(
        &[bind::Zone { name: zone, text: small_zone(zone, 5, 10, "3600 600 604800 300") }],
        Access::Tsig,
        None,
    )
    .await;
    let d = Daemon::start(&key_config("other-key", KEY_SECRET)).await;

    d.add_linked("nokey", bind_addr(&b), None, zone).await;
    let z = d.wait_zone(zone, "an error", |z| z.transfer.last_error.is_some()).await;
    let msg = last_error(&z).expect("message").to_string();
    assert!(msg.contains("REFUSED") || msg.contains("NOTAUTH"), "{msg}");
    assert!(msg.contains(&b.port.to_string()), "the error names the primary: {msg}");
    assert_eq!(z.transfer.serial, None);
    assert_eq!(z.transfer.state, ZoneState::Bootstrapping);

    let r =
        d.call("PUT", "/v2/1/secondary_dns/primaries/nokey/unlink", Some(serde_json::json!({ "zone": zone }))).await;
    assert_eq!(r.status, 200);
    d.add_linked("badkey", bind_addr(&b), Some("other-key"), zone).await;
    let z = d
        .wait_zone(zone, "a TSIG error", |z| {
            last_error(z).is_some_and(|m| m.contains("other-key") || m.contains("BADKEY"))
        })
        .await;
    let msg = last_error(&z).expect("message");
    assert!(msg.contains("BADKEY") || msg.contains("TSIG"), "{msg}");
    assert_eq!(z.transfer.serial, None);
}

#[tokio::test]
async fn secondaryctl_waits_for_a_refresh_shows_status_and_exports_the_zone() {
    let zone = "ctl.test";
    let timers = "3600 600 604800 300";
    let b = Bind::start(&[bind::Zone { name: zone, text: small_zone(zone, 7, 5, timers) }], Access::Open, None).await;
    let d = Daemon::start("").await;
    d.add_linked("bind", bind_addr(&b), None, zone).await;
    d.wait_serial(zone, 7).await;

    b.update_zone(zone, &small_zone(zone, 8, 6, timers), 8).await;
    let (code, out, err) = d.ctl(&["zone", "refresh", zone, "--wait"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("state:         ok"), "{out}");
    assert!(out.contains("IXFR from bind"), "{out}");
    assert!(out.contains("serial 7 → 8"), "{out}");
    assert!(out.contains("ms commit)"), "the commit time is reported: {out}");

    let (code, out, _) = d.ctl(&["zone", "export", zone]);
    assert_eq!(code, 0);
    assert_eq!(bind::canonical(zone, &out), bind::canonical(zone, &b.dig_axfr(zone)));
    let first = out.lines().find(|l| !l.starts_with('$')).unwrap_or_default();
    assert!(
        first.contains(" SOA ") && first.contains(" 8 "),
        "after an IXFR the export starts with the new SOA: {out}"
    );

    let (code, out, _) = d.ctl(&["zone", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains("ctl.test") && out.contains(" ok ") && out.contains(" 8 "), "{out}");

    // A failing refresh: --wait reports the error and exits non-zero.
    let mut b = b;
    b.stop();
    let (code, out, _) = d.ctl(&["zone", "retransfer", zone, "--wait"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("last error:") && out.contains("refused"), "{out}");
    assert!(out.contains("serial:        8"), "the copy is still served: {out}");
}

#[tokio::test]
async fn a_large_zone_moves_between_storage_forms_without_losing_a_record() {
    // Over 50,000 records a zone gets a table of its own; under it, it shares one.
    let zone = "large.test";
    let timers = "3600 600 604800 300";
    let mut b =
        Bind::start(&[bind::Zone { name: zone, text: small_zone(zone, 1, 60_000, timers) }], Access::Open, None).await;
    let d = Daemon::start("").await;
    d.add_linked("bind", bind_addr(&b), None, zone).await;
    let z = d.wait_serial(zone, 1).await;
    assert_eq!(z.transfer.records, 60_003);
    assert_eq!(bind::canonical(zone, &d.export(zone).await), bind::canonical(zone, &b.dig_axfr(zone)));

    let changed = small_zone(zone, 2, 60_000, timers).replace("h5 IN A 10.0.0.6\n", "") + "extra IN TXT \"added\"\n";
    b.update_zone(zone, &changed, 2).await;
    d.call("POST", &format!("/v2/1/zones/{zone}/refresh"), None).await;
    let z = d.wait_serial(zone, 2).await;
    assert_eq!(last_kind(&z), Some("IXFR"));
    assert_eq!(z.transfer.records, 60_003);
    let r = d.call("GET", &format!("/v2/1/zones/{zone}/records?name=extra"), None).await;
    assert_eq!(r.body["data"][0]["content"], "\"added\"", "{:?}", r.body);

    b.stop();
    for entry in std::fs::read_dir(b.dir.path()).expect("dir").flatten() {
        if entry.path().extension().is_some_and(|e| e == "jnl") {
            std::fs::remove_file(entry.path()).expect("remove journal");
        }
    }
    std::fs::write(b.dir.path().join(format!("{zone}.zone")), small_zone(zone, 3, 100, timers)).expect("write");
    b.start_again().await;
    d.call("POST", &format!("/v2/1/zones/{zone}/refresh"), None).await;
    let z = d.wait_serial(zone, 3).await;
    assert_eq!(z.transfer.records, 103);
    assert_eq!(bind::canonical(zone, &d.export(zone).await), bind::canonical(zone, &b.dig_axfr(zone)));
    let r = d.call("GET", &format!("/v2/1/zones/{zone}/records?per_page=1"), None).await;
    assert_eq!(r.body["pagination"]["total_entries"], 103);
}

#[tokio::test]
async fn an_ixfr_larger_than_max_ixfr_records_is_fetched_whole_instead() {
    let zone = "bigdiff.test";
    let timers = "3600 600 604800 300";
    let b =
        Bind::start(&[bind::Zone { name: zone, text: small_zone(zone, 10, 2000, timers) }], Access::Open, None).await;
    let d = Daemon::start("[transfer]\nmax_ixfr_records = 100\n").await;
    d.add_linked("bind", bind_addr(&b), None, zone).await;
    d.wait_serial(zone, 10).await;
    // 150 changed A records of 2,000: an IXFR of 300 deletions and additions
    // (small enough next to the zone for BIND to send it as a diff).
    let mut changed = small_zone(zone, 11, 2000, timers);
    for i in 0..150 {
        changed =
            changed.replace(&format!("h{i} IN A 10.0.{}.{}\n", i / 250, i % 250 + 1), &format!("h{i} IN A 10.1.2.3\n"));
    }
    assert_eq!(changed.matches("10.1.2.3").count(), 150, "the zone changed enough: {changed}");
    b.update_zone(zone, &changed, 11).await;
    d.call("POST", &format!("/v2/1/zones/{zone}/refresh"), None).await;
    let z = d.wait_serial(zone, 11).await;
    assert_eq!(last_kind(&z), Some("IXFR→AXFR"), "{:#?}", z.transfer);
    assert_eq!(bind::canonical(zone, &d.export(zone).await), bind::canonical(zone, &b.dig_axfr(zone)));
    assert!(d.log().contains("transfer.max_ixfr_records"), "the log says why: {}", d.log());
}
