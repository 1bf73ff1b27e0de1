//! A broken or hostile primary never damages the copy we serve: the whole
//! transfer is discarded, the previous version stays, and `last_error` says
//! what was wrong and with which primary.

mod common;

use common::fake::{FakePrimary, Fault};
use common::Daemon;
use secondaryd::model::{Record, ZoneState};

const ZONE: &str = "fault.test";

async fn loaded(extra: &str) -> (Daemon, FakePrimary) {
    let fake = FakePrimary::start(ZONE, 1, 50).await;
    let d = Daemon::start(&format!("{}max_records = 500\n{extra}", common::FAST_TIMERS)).await;
    d.add_linked("fake", fake.addr, None, ZONE).await;
    let z = d.wait_serial(ZONE, 1).await;
    assert_eq!(z.transfer.records, 52);
    (d, fake)
}

/// Serves serial 2 with `fault`, forces a transfer, and checks that serial 1 is
/// still served intact and the error contains one of `expected`.
async fn check(d: &Daemon, fake: &FakePrimary, fault: Fault, expected: &[&str]) {
    let before = d.export(ZONE).await;
    fake.set(2, fault);
    let attempts = d.zone(ZONE).await.transfer.attempts;
    assert_eq!(d.call("POST", &format!("/v2/1/zones/{ZONE}/retransfer"), None).await.status, 202);
    let z = d.wait_attempt(ZONE, attempts).await;
    let t = &z.transfer;
    assert_eq!(t.serial, Some(1), "{fault:?}: the previous version keeps serving");
    assert_eq!(t.records, 52, "{fault:?}");
    assert_eq!(t.state, ZoneState::Retrying, "{fault:?}");
    let msg = common::last_error(&z).expect("an error message").to_lowercase();
    assert!(expected.iter().any(|e| msg.contains(e)), "{fault:?}: unexpected error: {msg}");
    assert!(msg.contains(&fake.addr.to_string()), "{fault:?}: the error names the primary: {msg}");
    assert_eq!(d.export(ZONE).await, before, "{fault:?}: the zone data is unchanged");
    let r = d.call("GET", &format!("/v2/1/zones/{ZONE}/records?per_page=100"), None).await;
    let total = common::page::<Record>(&r).pagination.total_entries;
    assert_eq!(total, 52, "{fault:?}: no rows of the failed transfer are visible");
}

#[tokio::test]
async fn a_broken_stream_leaves_the_previous_version_serving_and_says_why() {
    let (d, fake) = loaded("").await;
    check(&d, &fake, Fault::CloseAfterFirst, &["closed"]).await;
    check(&d, &fake, Fault::WrongFinalSoa, &["soa", "serial"]).await;
    check(&d, &fake, Fault::OutOfZone, &["outside"]).await;
    check(&d, &fake, Fault::Garbage, &["malformed", "truncated", "invalid", "garbage", "parse", "message"]).await;
    fake.set_records(600);
    check(&d, &fake, Fault::None, &["limit"]).await;
    fake.set_records(50);

    // And a good transfer afterwards works: nothing was left half-done.
    fake.set(3, Fault::None);
    d.call("POST", &format!("/v2/1/zones/{ZONE}/retransfer"), None).await;
    let z = d
        .wait_zone(ZONE, "serial 3, state ok", |z| z.transfer.serial == Some(3) && z.transfer.state == ZoneState::Ok)
        .await;
    assert_eq!(z.transfer.last_error, None);
}

#[tokio::test]
async fn malformed_rdata_of_a_known_type_is_refused_naming_the_record_and_the_copy_stays() {
    let (d, fake) = loaded("").await;
    for (fault, expected) in [
        (
            Fault::Extra(1, &[10, 0, 0]),
            "record `bad.fault.test. a` has malformed rdata: rdlength is 3, an ipv4 address is 4 bytes",
        ),
        (Fault::Extra(1, &[]), "record `bad.fault.test. a` has malformed rdata: rdlength is 0"),
        (
            Fault::Extra(28, &[0x20, 1, 0xd, 0xb8, 0]),
            "record `bad.fault.test. aaaa` has malformed rdata: rdlength is 5",
        ),
        (
            Fault::Extra(16, b"\x09v=spf1"),
            "record `bad.fault.test. txt` has malformed rdata: the character-string at byte 0 is 9 bytes long",
        ),
    ] {
        check(&d, &fake, fault, &[expected]).await;
    }
}

#[tokio::test]
async fn duplicate_records_in_an_axfr_are_stored_served_and_exported_once() {
    let (d, fake) = loaded("").await;
    fake.set(2, Fault::Duplicates);
    d.call("POST", &format!("/v2/1/zones/{ZONE}/retransfer"), None).await;
    let z = d.wait_serial(ZONE, 2).await;
    assert_eq!(common::last_error(&z), None);
    assert_eq!(z.transfer.records, 52, "the zone's record count counts each record once");
    let r = d.call("GET", &format!("/v2/1/zones/{ZONE}/records?per_page=100"), None).await;
    let records = common::page::<Record>(&r);
    assert_eq!(records.pagination.total_entries, 52, "SOA, NS and 50 A records, each once");
    let export = d.export(ZONE).await;
    let h0: Vec<&str> = export.lines().filter(|l| l.to_ascii_lowercase().starts_with("h0.")).collect();
    assert_eq!(h0.len(), 1, "{export}");
    assert_eq!(export.lines().filter(|l| l.contains(" NS ")).count(), 1, "{export}");
    // Served once too.
    let q = common::query::Question {
        qname: format!("h0.{ZONE}"),
        qtype: 1,
        rd: false,
        edns: None,
        transport: common::query::Transport::Udp,
    };
    let addr = format!("127.0.0.1:{}", d.dns_port).parse().expect("addr");
    let a = tokio::task::spawn_blocking(move || common::query::ask(addr, &q)).await.expect("join").expect("answer");
    assert_eq!(a.answer.len(), 1, "{:?}", a.answer);
}

#[tokio::test]
async fn a_signed_transfer_whose_last_message_is_unsigned_is_refused() {
    let fake = FakePrimary::start(ZONE, 1, 50).await;
    let keys =
        format!("[[tsig_key]]\nname = \"{}\"\nsecret = \"{}\"\n", common::bind::KEY_NAME, common::bind::KEY_SECRET);
    let d = Daemon::start(&format!("{}{keys}", common::FAST_TIMERS)).await;
    d.add_linked("fake", fake.addr, Some(common::bind::KEY_NAME), ZONE).await;
    d.wait_serial(ZONE, 1).await;
    check(&d, &fake, Fault::UnsignedLast, &["tsig", "signed"]).await;
}

#[tokio::test]
async fn a_primary_that_stalls_mid_stream_times_out_without_harm() {
    let (d, fake) = loaded("").await;
    check(&d, &fake, Fault::StallAfterFirst, &["timed out", "timeout"]).await;
}
