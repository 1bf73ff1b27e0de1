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
    // The table is indexed for IXFR after the transfer is reported, not before.
    wait_tables(&d, &[&format!("records_{}_1", z.id), &format!("records_{}_1_rkey", z.id)]).await;

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
    // The large copy's table goes, after the transfer.
    wait_tables(&d, &[]).await;
}

/// Waits (at most 30 s) until the zones' own record tables and their indexes
/// in the daemon's store are exactly `want` (housekeeping after a full
/// transfer runs in the background).
async fn wait_tables(d: &Daemon, want: &[&str]) {
    let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    want.sort();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let db = rusqlite::Connection::open(d.store_path()).expect("open the store");
        let mut stmt =
            db.prepare("SELECT name FROM sqlite_master WHERE name GLOB 'records_*' ORDER BY name").expect("prepare");
        let have: Vec<String> =
            stmt.query_map([], |r| r.get(0)).expect("query").collect::<Result<_, _>>().expect("names");
        if have == want {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "the store's record tables are {have:?}, not {want:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
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

/// One record of every type BIND 9.18 prints in a form of its own that we
/// printed only in the RFC 3597 form before, and SVCB keys 7 and 8.
const PRESENTATION_ZONE: &str = r#"$ORIGIN types.test.
$TTL 300
@        IN SOA ns1.types.test. hostmaster.types.test. 7 3600 600 604800 300
@        IN NS ns1.types.test.
ns1      IN A 192.0.2.53
wks      IN WKS 192.0.2.1 6 1 25 80
x25      IN X25 "311061700"
isdn     IN ISDN "150862028003217" "004"
nsap     IN NSAP 0x47000580ffff000000321099991111222233334444
nsapptr  IN NSAP-PTR foo.example.
sig      IN SIG A 13 3 3600 20240101000000 20231201000000 12345 types.test. AQID
gpos     IN GPOS "-32" "116.8" "10.0"
loc      IN LOC 52 22 23.000 N 4 53 32.000 E -2.00m 1m 10000m 10m
loc2     IN LOC 0 0 1.000 S 0 0 0.005 W 123.45m 0.10m 10000m 10m
nxt      IN NXT b.types.test. A MX DS
eid      IN EID 89ABCDEF
nimloc   IN NIMLOC 89ABCDEF
atma     IN ATMA 39246f000e7c9c0312000100010000000000000000
atma2    IN ATMA +14155551212
cert     IN CERT PKIX 12345 RSASHA256 AQIDBA==
cert2    IN CERT 300 0 99 /w==
a6       IN A6 0 2001:db8::1
a6b      IN A6 64 ::1:2:3:4 prefix.types.test.
sink     IN SINK 1 2 3 YWJj
apl      IN APL 1:192.0.2.0/24 !2:2001:db8::/32
apl2     IN APL
ipseckey IN IPSECKEY 10 1 2 192.0.2.38 AQID
ipsec2   IN IPSECKEY 10 3 2 gw.types.test. AQI=
ipsec3   IN IPSECKEY 10 2 2 ::64.0.0.0 AQI=
hip      IN HIP 2 200100107B1A74DF365639CC39F1D578 AwEAAbdxyhNuSutc5EMzxTs9LBPCIkOFH8cIvM4p9+LrV4e19WzK00+CI6zBCQTdtWsuxKbWIy87UOoJTwkUs7lBu+Upr1gsNrut79ryra+bSRGQb1slImA8YVJyuIDsj7kwzG7jnERNqnWxZ48AWkskmdHaVDP4BcelrTI3rMXdXF5D rvs.types.test.
ninfo    IN NINFO "abc"
rkey     IN RKEY 0 3 13 AQID
talink   IN TALINK a.types.test. b.types.test.
nid      IN NID 10 14:4fff:ff20:ee64
l32      IN L32 10 10.1.2.0
l64      IN L64 10 2001:db81:14fa:0
lp       IN LP 10 l64.types.test.
eui48    IN EUI48 00-00-5e-00-53-ff
eui64    IN EUI64 00-00-5e-00-00-00-00-01
avc      IN AVC "app-name:WOLFGANG|app-class:OAM"
doa      IN DOA 0 1 2 "image/jpeg" AQI=
doa2     IN DOA 0 1 2 "" -
amt      IN AMTRELAY 10 1 1 192.0.2.1
amt2     IN AMTRELAY 0 0 0 .
amt3     IN AMTRELAY 10 0 3 relay.types.test.
resinfo  IN RESINFO "qnamemin" "exterr=15,16,17"
ta       IN TA 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
dlv      IN DLV 12345 13 1 0123456789ABCDEF0123456789ABCDEF01234567
dsync    IN DSYNC CDS NOTIFY 5300 notify.types.test.
hhit     IN HHIT AQID
brid     IN BRID AQID
wallet   IN WALLET "BTC" "bc1q..."
uri      IN URI 10 1 ""
sshfp    IN SSHFP 4 0
doh      IN HTTPS 1 . alpn="h2" key7="/dns-query{?dns}"
ohttp    IN HTTPS 1 . mandatory=key8 key8
"#;

/// `owner TYPE rdata` of every record of a master file or `dig` output, the
/// owner lower case, fields one space apart, SOA left out.
fn records_by_line(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with(';') && !l.starts_with('$'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 4 && f[3] != "SOA")
                .then(|| format!("{} {} {}", f[0].to_ascii_lowercase(), f[3], f[4..].join(" ")))
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

#[tokio::test]
async fn every_type_bind_prints_in_its_own_form_is_exported_as_bind_prints_it_and_loads_in_bind() {
    let zone = "types.test";
    let b = Bind::start(&[bind::Zone { name: zone, text: PRESENTATION_ZONE.to_string() }], Access::Open, None).await;
    let d = Daemon::start("").await;
    d.add_linked("bind", bind_addr(&b), None, zone).await;
    let z = d.wait_serial(zone, 7).await;
    assert_eq!(z.transfer.last_error, None);

    let out = std::process::Command::new(bind::tool("dig"))
        .args(["+nocmd", "+nostats", "+nocomments", "+noquestion", "+nosplit", "+onesoa", "axfr", zone, "@127.0.0.1"])
        .args(["-p", &b.port.to_string()])
        .output()
        .expect("run dig");
    let theirs = records_by_line(&String::from_utf8_lossy(&out.stdout));
    let export = d.export(zone).await;
    let ours = records_by_line(&export);
    assert_eq!(ours.len(), PRESENTATION_ZONE.lines().count() - 3, "{export}");
    for (o, t) in ours.iter().zip(&theirs) {
        assert_eq!(o, t, "our export prints this record unlike BIND");
    }
    assert_eq!(ours, theirs);
    assert!(!export.contains("\\#"), "no record is left in the RFC 3597 form:\n{export}");
    // The export loads in named-checkzone (BIND 9.18) as the same zone.
    assert_eq!(bind::canonical(zone, &export), bind::canonical(zone, PRESENTATION_ZONE));

    // The API's content is the same text, names without their trailing dot.
    let r = d.call("GET", &format!("/v2/1/zones/{zone}/records?type=LOC"), None).await;
    assert_eq!(r.body["data"][0]["content"], "52 22 23.000 N 4 53 32.000 E -2.00m 1m 10000m 10m");
    let r = d.call("GET", &format!("/v2/1/zones/{zone}/records?name=lp"), None).await;
    assert_eq!(r.body["data"][0]["content"], "10 l64.types.test");
}

#[tokio::test]
async fn a_full_store_refuses_the_transfer_says_so_and_keeps_serving_the_rest() {
    let timers = "3600 600 604800 300";
    let zones = [
        bind::Zone { name: "fits.test", text: small_zone("fits.test", 1, 10, timers) },
        bind::Zone { name: "huge.test", text: small_zone("huge.test", 1, 40_000, timers) },
    ];
    let b = Bind::start(&zones, Access::Open, None).await;
    // 1 MiB of database: the small zone fits, 40,000 records do not.
    let d = Daemon::start("max_size_mib = 1\n").await;
    d.add_linked("bind", bind_addr(&b), None, "fits.test").await;
    d.wait_serial("fits.test", 1).await;
    let r = d.call("POST", "/v2/1/secondary_dns/zones", Some(serde_json::json!({ "name": "huge.test" }))).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = d
        .call("PUT", "/v2/1/secondary_dns/primaries/bind/link", Some(serde_json::json!({ "zone": "huge.test" })))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let z = d.wait_zone("huge.test", "a failed attempt", |z| z.transfer.attempts > 0).await;
    assert_eq!(z.transfer.serial, None, "nothing of it was committed");
    let error = last_error(&z).unwrap_or_default();
    assert!(error.contains("database or disk is full"), "the zone's status says why: {error}");
    let st = d.call("GET", "/v2/status", None).await;
    let write_error = st.body["data"]["store_write_error"]["message"].as_str().unwrap_or_default();
    assert!(write_error.contains("database or disk is full"), "{:?}", st.body);
    // The zone that fits is still served, at its serial.
    assert_eq!(d.zone("fits.test").await.transfer.serial, Some(1));
    assert!(!d.log().contains("cannot read"), "a failed write is not called a read: {}", d.log());
}

/// Sends `POST …/{action}` for the zone and SIGKILLs the daemon `after_ms`
/// later, for each delay until a crash finds the new version committed.
/// After each restart the store passes `integrity_check` and holds exactly
/// `old` (serial `from`) or `new` (serial `to`). Returns how many crashes
/// came before the commit.
async fn crash_during(
    d: &mut Daemon,
    zone: &str,
    action: &str,
    (from, old): (u32, &[String]),
    (to, new): (u32, &[String]),
) -> usize {
    let (mut seen_new, mut crashes_before_commit) = (false, 0);
    for after_ms in [5u64, 20, 50, 100, 200, 400, 800] {
        if seen_new {
            break;
        }
        assert_eq!(d.call("POST", &format!("/v2/1/zones/{zone}/{action}"), None).await.status, 202);
        tokio::time::sleep(std::time::Duration::from_millis(after_ms)).await;
        d.crash_and_restart().await;
        // The database is sound, and holds one whole version of the zone.
        let db = rusqlite::Connection::open(d.store_path()).expect("open the store");
        let check: String = db.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("integrity_check");
        assert_eq!(check, "ok", "after a crash {after_ms} ms into the {action}");
        drop(db);
        let z = d.zone(zone).await;
        let export = bind::canonical(zone, &d.export(zone).await);
        match z.transfer.serial {
            Some(s) if s == from => {
                assert!(export == old, "serial {from} with other data after a crash at {after_ms} ms");
                crashes_before_commit += 1;
            }
            Some(s) if s == to => {
                assert!(export == new, "serial {to} with other data after a crash at {after_ms} ms");
                seen_new = true;
            }
            other => panic!("serial {other:?} after a crash at {after_ms} ms"),
        }
    }
    // A refresh that a crash interrupted is not resumed (the zone's timers
    // are), so it is asked for again unless one already committed.
    if !seen_new {
        assert_eq!(d.call("POST", &format!("/v2/1/zones/{zone}/{action}"), None).await.status, 202);
    }
    crashes_before_commit
}

#[tokio::test]
async fn a_crash_during_a_large_transfer_leaves_a_sound_store_with_the_old_or_the_new_version() {
    let zone = "crash.test";
    let timers = "3600 600 604800 300";
    let b = Bind::start(&[bind::Zone { name: zone, text: small_zone(zone, 1, 100, timers) }], Access::Open, None).await;
    let mut d = Daemon::start("").await;
    d.add_linked("bind", bind_addr(&b), None, zone).await;
    d.wait_serial(zone, 1).await;
    let old = bind::canonical(zone, &d.export(zone).await);
    // Over the large-zone size: written to a table of its own as it arrives.
    b.update_zone(zone, &small_zone(zone, 2, 60_000, timers), 2).await;
    let new = bind::canonical(zone, &b.dig_axfr(zone));
    // SIGKILL at several moments of the AXFR of 60,000 records and its commit.
    let before_commit = crash_during(&mut d, zone, "retransfer", (1, &old), (2, &new)).await;
    assert!(before_commit > 0, "some crash came before the commit (the test tests something)");
    let z = d.wait_serial(zone, 2).await;
    assert_eq!(z.transfer.records, 60_003);
}

/// `small_zone`'s hosts `first..first + n`.
fn shifted_zone(name: &str, serial: u32, first: usize, n: usize, timers: &str) -> String {
    let mut z = small_zone(name, serial, 0, timers);
    for i in first..first + n {
        z.push_str(&format!("h{i} IN A 10.{}.{}.{}\n", i / 62_500, i / 250 % 250, i % 250 + 1));
    }
    z
}

#[tokio::test]
async fn a_crash_during_a_large_ixfr_commit_leaves_a_sound_store_with_the_old_or_the_new_version() {
    let zone = "ixfr-crash.test";
    let timers = "3600 600 604800 300";
    let b =
        Bind::start(&[bind::Zone { name: zone, text: shifted_zone(zone, 1, 0, 40_000, timers) }], Access::Open, None)
            .await;
    let mut d = Daemon::start("").await;
    d.add_linked("bind", bind_addr(&b), None, zone).await;
    d.wait_serial(zone, 1).await;
    let old = bind::canonical(zone, &d.export(zone).await);
    // BIND keeps the difference (ixfr-from-differences): 10,000 deletions and
    // 10,000 additions in one IXFR (half the zone: under BIND's max-ixfr-ratio).
    b.update_zone(zone, &shifted_zone(zone, 2, 10_000, 40_000, timers), 2).await;
    let new = bind::canonical(zone, &b.dig_axfr(zone));
    let before_commit = crash_during(&mut d, zone, "refresh", (1, &old), (2, &new)).await;
    assert!(before_commit > 0, "some crash came before the commit (the test tests something)");
    let z = d.wait_serial(zone, 2).await;
    assert_eq!(z.transfer.records, 40_003);
    assert_eq!(last_kind(&z), Some("IXFR"), "{:?}", z.transfer.last_transfer);
}
