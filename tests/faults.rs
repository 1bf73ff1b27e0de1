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

/// Like [`loaded`], the fake primary linked with the test key (transfers signed).
async fn loaded_signed() -> (Daemon, FakePrimary) {
    let fake = FakePrimary::start(ZONE, 1, 50).await;
    let keys =
        format!("[[tsig_key]]\nname = \"{}\"\nsecret = \"{}\"\n", common::bind::KEY_NAME, common::bind::KEY_SECRET);
    let d = Daemon::start(&format!("{}{keys}", common::FAST_TIMERS)).await;
    d.add_linked("fake", fake.addr, Some(common::bind::KEY_NAME), ZONE).await;
    d.wait_serial(ZONE, 1).await;
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
    // The junk frame's bytes are fixed, and so is what the parser says of them.
    check(&d, &fake, Fault::Garbage, &["sent a malformed message #2: compression pointer at byte 12"]).await;
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
    let (d, fake) = loaded_signed().await;
    check(&d, &fake, Fault::UnsignedLast, &["tsig", "signed"]).await;
}

#[tokio::test]
async fn a_signed_answer_to_an_unsigned_transfer_request_is_refused() {
    let (d, fake) = loaded("").await;
    check(&d, &fake, Fault::SignUnasked, &["although our request was not signed"]).await;
}

#[tokio::test]
async fn an_unsigned_refusal_of_a_signed_transfer_is_not_taken_for_the_primarys_answer() {
    let (d, fake) = loaded_signed().await;
    check(&d, &fake, Fault::UnsignedRefused, &["sent message #1 without tsig although we expect key"]).await;
}

#[tokio::test]
async fn a_primary_that_stalls_mid_stream_times_out_without_harm() {
    let (d, fake) = loaded("").await;
    check(&d, &fake, Fault::StallAfterFirst, &["timed out", "timeout"]).await;
}

/// The zone's `expires_at` and `last_success_at`, which only a refresh that counts moves.
fn freshness(z: &secondaryd::model::Zone) -> (Option<String>, Option<String>) {
    (z.transfer.expires_at.clone(), z.transfer.last_success_at.clone())
}

#[tokio::test]
async fn a_primary_restored_at_an_older_serial_is_a_failure_and_the_copy_expires() {
    let fake = FakePrimary::start(ZONE, 100, 50).await;
    // refresh 1 s, retry 1 s, expire 4 s.
    fake.set_timers([1, 1, 4, 60]);
    let d = Daemon::start(common::FAST_TIMERS).await;
    d.add_linked("fake", fake.addr, None, ZONE).await;
    d.wait_serial(ZONE, 100).await;

    // Restored from an old backup: it now serves serial 90.
    fake.set(90, Fault::None);
    // (The error is written before the attempt ends: wait for its end.)
    let z = d
        .wait_zone(ZONE, "the older serial to count as a failure", |z| {
            z.transfer.last_error.is_some() && !z.transfer.refreshing
        })
        .await;
    assert_eq!(z.transfer.state, ZoneState::Retrying);
    assert_eq!(z.transfer.serial, Some(100), "the copy is not rolled back");
    let msg = common::last_error(&z).unwrap_or_default();
    for part in [fake.addr.to_string().as_str(), "fake", "serial 90", "ours (100)", "older", ZONE] {
        assert!(msg.contains(part), "the error names the primary and both serials ({part}): {msg}");
    }
    let fresh = freshness(&z);
    let z = d.wait_zone(ZONE, "a second failed refresh", |z| z.transfer.backoff >= 2).await;
    assert_eq!(freshness(&z), fresh, "an older serial pushes neither the expiry nor the last success");
    let st = d.call("GET", "/v2/status", None).await;
    assert_eq!(st.body["data"]["not_in_sync"][0]["name"], ZONE, "{:#}", st.body);
    assert_eq!(st.body["data"]["zones"]["ok"], 0, "{:#}", st.body);

    // EXPIRE fires; an expired zone then takes the primary's copy, older or not.
    d.wait_zone(ZONE, "expiry", |z| z.transfer.state == ZoneState::Expired).await;
    let z = d.wait_zone(ZONE, "recovery at 90", |z| z.transfer.state == ZoneState::Ok).await;
    assert_eq!(z.transfer.serial, Some(90));
    assert_eq!(z.transfer.last_error, None);
}

#[tokio::test]
async fn a_lagging_primary_is_skipped_for_the_next_one_which_has_the_newer_serial() {
    let lagging = FakePrimary::start(ZONE, 100, 50).await;
    let current = FakePrimary::start(ZONE, 100, 50).await;
    let d = Daemon::start(common::FAST_TIMERS).await;
    d.add_linked("lagging", lagging.addr, None, ZONE).await;
    d.wait_serial(ZONE, 100).await;
    let attempts = d.zone(ZONE).await.transfer.attempts;
    d.add_linked("current", current.addr, None, ZONE).await;
    // Linking refreshes the zone: both primaries are at 100, and `lagging`,
    // the one that worked last, is asked first.
    let z = d.wait_attempt(ZONE, attempts).await;
    assert!(z.transfer.last_primary.as_deref().is_some_and(|p| p.starts_with("lagging")), "{:#?}", z.transfer);

    lagging.set(90, Fault::None);
    current.set(101, Fault::None);
    assert_eq!(d.call("POST", &format!("/v2/1/zones/{ZONE}/refresh"), None).await.status, 202);
    let z = d.wait_serial(ZONE, 101).await;
    assert_eq!(z.transfer.state, ZoneState::Ok);
    assert!(z.transfer.last_primary.as_deref().is_some_and(|p| p.starts_with("current")), "{:#?}", z.transfer);
    let used: Vec<(&str, bool)> = z.primaries.iter().map(|p| (p.name.as_str(), p.last_used)).collect();
    assert_eq!(used, vec![("lagging", false), ("current", true)], "the primary that worked is asked first next time");
}

#[tokio::test]
async fn an_ixfr_answered_with_a_whole_zone_at_an_older_serial_is_refused_unless_forced() {
    let (d, fake) = loaded("").await;
    fake.set(100, Fault::None);
    assert_eq!(d.call("POST", &format!("/v2/1/zones/{ZONE}/refresh"), None).await.status, 202);
    d.wait_serial(ZONE, 100).await;
    let before = d.export(ZONE).await;

    // Its SOA claims 101; the IXFR that follows brings the whole zone at 90.
    fake.set(90, Fault::None);
    fake.set_soa_serial(Some(101));
    let attempts = d.zone(ZONE).await.transfer.attempts;
    assert_eq!(d.call("POST", &format!("/v2/1/zones/{ZONE}/refresh"), None).await.status, 202);
    let z = d.wait_attempt(ZONE, attempts).await;
    assert_eq!(z.transfer.serial, Some(100), "no rollback: {:#?}", z.transfer);
    assert_eq!(z.transfer.state, ZoneState::Retrying);
    assert_eq!(z.transfer.last_transfer.as_ref().map(|t| t.serial_to), Some(100), "nothing was committed");
    let msg = common::last_error(&z).unwrap_or_default();
    for part in [fake.addr.to_string().as_str(), "serial 90", "not newer than ours (100)", "IXFR→AXFR"] {
        assert!(msg.contains(part), "the error says why ({part}): {msg}");
    }
    assert_eq!(d.export(ZONE).await, before, "the previous version is intact");

    // A forced retransfer takes the primary's version, whatever its serial.
    let attempts = z.transfer.attempts;
    assert_eq!(d.call("POST", &format!("/v2/1/zones/{ZONE}/retransfer"), None).await.status, 202);
    let z = d.wait_attempt(ZONE, attempts).await;
    assert_eq!(z.transfer.serial, Some(90), "{:#?}", z.transfer);
    assert_eq!(common::last_kind(&z), Some("AXFR"));
    assert_eq!(z.transfer.state, ZoneState::Ok);
}

#[tokio::test]
async fn a_transfer_whose_primary_is_unlinked_or_deleted_meanwhile_is_discarded() {
    let (d, fake) = loaded("").await;
    let unlink = serde_json::json!({ "zone": ZONE });

    // Unlinked while its transfer of serial 2 runs.
    fake.set(2, Fault::SlowEnd);
    let attempts = d.zone(ZONE).await.transfer.attempts;
    assert_eq!(d.call("POST", &format!("/v2/1/zones/{ZONE}/retransfer"), None).await.status, 202);
    d.wait_zone(ZONE, "the transfer to run", |z| z.transfer.refreshing).await;
    let r = d.call("PUT", "/v2/1/secondary_dns/primaries/fake/unlink", Some(unlink.clone())).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let z = d.wait_attempt(ZONE, attempts).await;
    assert_eq!(z.transfer.serial, Some(1), "not committed: {:#?}", z.transfer);
    assert_eq!(z.transfer.records, 52);
    let msg = common::last_error(&z).unwrap_or_default();
    for part in [fake.addr.to_string().as_str(), "unlinked", "serial 2", "discarded", ZONE] {
        assert!(msg.contains(part), "the error says why ({part}): {msg}");
    }
    assert!(d.log().contains("while its transfer ran; the transfer is discarded"), "logged: {}", d.log());

    // Linked again, it transfers serial 2; deleted while serial 3 runs.
    let r = d.call("PUT", "/v2/1/secondary_dns/primaries/fake/link", Some(unlink)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let z = d.wait_serial(ZONE, 2).await;
    fake.set(3, Fault::SlowEnd);
    assert_eq!(d.call("POST", &format!("/v2/1/zones/{ZONE}/retransfer"), None).await.status, 202);
    d.wait_zone(ZONE, "the transfer to run", |z| z.transfer.refreshing).await;
    assert_eq!(d.call("DELETE", "/v2/1/secondary_dns/primaries/fake", None).await.status, 204);
    let z = d.wait_attempt(ZONE, z.transfer.attempts).await;
    assert_eq!(z.transfer.serial, Some(2), "not committed: {:#?}", z.transfer);
    assert!(common::last_error(&z).is_some_and(|m| m.contains("serial 3") && m.contains("discarded")), "{z:#?}");
}
