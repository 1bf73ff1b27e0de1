//! Answers from the serving view, across the zone's life: first copy, IXFR,
//! NS settings, expiry and recovery, restart, and commits under query load.
//! (The answer-by-answer comparison with BIND is `tests/answers.rs`.)

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::bind::{self, Access, Bind};
use common::{small_zone, Daemon, FAST_TIMERS};
use secondaryd::wire::{self, rcode, rtype, Message, Name};
use serde_json::json;
use tokio::net::UdpSocket;

fn addr(b: &Bind) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], b.port))
}

/// One UDP query (no EDNS, RD clear) to secondaryd; the parsed reply.
async fn ask(port: u16, qname: &str, qtype: u16) -> Message {
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let q = wire::build_query(0x5eed, &Name::from_ascii(qname).expect("name"), qtype, None);
    for _ in 0..3 {
        sock.send_to(&q, ("127.0.0.1", port)).await.expect("send");
        let mut buf = vec![0u8; 65_535];
        if let Ok(Ok((n, _))) = tokio::time::timeout(Duration::from_secs(2), sock.recv_from(&mut buf)).await {
            return wire::parse_message(&buf[..n]).expect("a well-formed reply");
        }
    }
    panic!("no answer to {qname}/{qtype} from 127.0.0.1:{port}");
}

fn a_records(m: &Message) -> Vec<[u8; 4]> {
    let mut v: Vec<[u8; 4]> =
        m.answers.iter().filter(|r| r.rtype == rtype::A).filter_map(|r| r.rdata.clone().try_into().ok()).collect();
    v.sort();
    v
}

/// Polls until `done` holds for the answer (10 s at most).
async fn wait_answer(port: u16, qname: &str, qtype: u16, what: &str, done: impl Fn(&Message) -> bool) -> Message {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let m = ask(port, qname, qtype).await;
        if done(&m) {
            return m;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}; last answer: {m:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn answers_follow_the_zone_from_first_copy_through_ixfr_and_refuse_what_is_not_ours() {
    let zone = "serve.test";
    let b = Bind::start(
        &[bind::Zone { name: zone, text: small_zone(zone, 1, 3, "3600 600 86400 60") }],
        Access::Open,
        None,
    )
    .await;
    let d = Daemon::start(FAST_TIMERS).await;
    // Ours but no copy yet: SERVFAIL, not REFUSED.
    let r = d.call("POST", "/v2/1/secondary_dns/zones", Some(json!({ "name": zone }))).await;
    assert_eq!(r.status, 201);
    assert_eq!(ask(d.dns_port, "h0.serve.test", rtype::A).await.header.rcode(), rcode::SERVFAIL);
    d.add_linked("bind", addr(&b), None, zone).await;
    d.wait_serial(zone, 1).await;

    let m = wait_answer(d.dns_port, "H0.Serve.TEST", rtype::A, "the first copy", |m| !m.answers.is_empty()).await;
    assert_eq!(m.header.rcode(), rcode::NOERROR);
    assert!(m.header.aa(), "authoritative");
    assert_eq!(m.header.flags & 0x0080, 0, "RA is never set");
    assert_eq!(m.questions[0].name.as_wire(), Name::from_ascii("H0.Serve.TEST").expect("n").as_wire(), "case echoed");
    assert_eq!(a_records(&m), [[10, 0, 0, 1]]);
    let nx = ask(d.dns_port, "nothere.serve.test", rtype::A).await;
    assert_eq!(nx.header.rcode(), rcode::NXDOMAIN);
    assert_eq!(nx.authority.first().map(|r| r.rtype), Some(rtype::SOA));
    assert_eq!(nx.authority[0].ttl, 60, "negative TTL: min(SOA TTL 300, MINIMUM 60)");
    let refused = ask(d.dns_port, "www.example.org", rtype::A).await;
    assert_eq!(refused.header.rcode(), rcode::REFUSED);
    assert!(!refused.header.aa());

    // A change on the primary reaches the answers (IXFR into the view).
    let mut text = small_zone(zone, 2, 3, "3600 600 86400 60");
    text = text.replace("h0 IN A 10.0.0.1", "h0 IN A 10.9.9.9") + "added IN A 10.0.0.99\n";
    b.update_zone(zone, &text, 2).await;
    let r = d.call("POST", &format!("/v2/1/zones/{zone}/refresh"), None).await;
    assert_eq!(r.status, 202);
    let z = d.wait_serial(zone, 2).await;
    assert_eq!(z["transfer"]["last_transfer"]["type"], "IXFR");
    let m = ask(d.dns_port, "h0.serve.test", rtype::A).await;
    assert_eq!(a_records(&m), [[10, 9, 9, 9]], "the new version is served as soon as it is committed");
    assert_eq!(a_records(&ask(d.dns_port, "added.serve.test", rtype::A).await), [[10, 0, 0, 99]]);
    let soa = ask(d.dns_port, "serve.test", rtype::SOA).await;
    assert_eq!(soa.answers[0].soa_serial(), Some(2));

    // Deleted: no longer ours.
    assert_eq!(d.call("DELETE", &format!("/v2/1/domains/{zone}"), None).await.status, 204);
    assert_eq!(ask(d.dns_port, "h0.serve.test", rtype::A).await.header.rcode(), rcode::REFUSED);
}

#[tokio::test]
async fn an_expired_zone_answers_servfail_and_answers_again_once_back_in_sync() {
    let zone = "expiring.test";
    let timers = "1 1 5 60";
    let mut b =
        Bind::start(&[bind::Zone { name: zone, text: small_zone(zone, 10, 2, timers) }], Access::Open, None).await;
    let d = Daemon::start(FAST_TIMERS).await;
    d.add_linked("bind", addr(&b), None, zone).await;
    d.wait_serial(zone, 10).await;
    assert_eq!(ask(d.dns_port, "h1.expiring.test", rtype::A).await.header.rcode(), rcode::NOERROR);
    b.stop();
    d.wait_zone(zone, "expiry", |z| z["transfer"]["state"] == "expired").await;
    assert_eq!(ask(d.dns_port, "h1.expiring.test", rtype::A).await.header.rcode(), rcode::SERVFAIL);
    b.start_again().await;
    d.wait_zone(zone, "recovery", |z| z["transfer"]["state"] == "ok").await;
    let m =
        wait_answer(d.dns_port, "h1.expiring.test", rtype::A, "answers again", |m| m.header.rcode() == rcode::NOERROR)
            .await;
    assert_eq!(a_records(&m), [[10, 0, 0, 2]]);
}

#[tokio::test]
async fn nameserver_settings_are_what_resolvers_get_and_a_restart_serves_from_the_store() {
    let zone = "vanity.test";
    let mut b = Bind::start(
        &[bind::Zone { name: zone, text: small_zone(zone, 5, 2, "3600 600 86400 60") }],
        Access::Open,
        None,
    )
    .await;
    let mut d = Daemon::start(FAST_TIMERS).await;
    d.add_linked("bind", addr(&b), None, zone).await;
    d.wait_serial(zone, 5).await;
    let ns = |m: &Message| -> Vec<String> {
        let mut v: Vec<String> = m
            .answers
            .iter()
            .filter(|r| r.rtype == rtype::NS)
            .filter_map(|r| Name::from_wire(&r.rdata).ok())
            .map(|n| n.to_string().to_ascii_lowercase())
            .collect();
        v.sort();
        v
    };
    assert_eq!(ns(&ask(d.dns_port, zone, rtype::NS).await), ["ns1.vanity.test."]);

    let r = d.call("POST", "/v2/1/nameserver_sets", Some(json!({ "name": "Vanity", "ns_ttl": 600 }))).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let set = r.body["data"]["id"].as_i64().expect("set id");
    for (host, ip) in [("a.vanity.test", "127.0.0.11"), ("b.vanity.test", "127.0.0.12")] {
        let r = d
            .call(
                "POST",
                "/v2/1/custom_ns",
                Some(json!({ "ns_name": host, "ns_set": set, "dns_records": [{ "type": "A", "value": ip }] })),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
    }
    let r = d.call("PUT", &format!("/v2/1/zones/{zone}/ns_records"), Some(json!({ "ns_set_ids": [set] }))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let m = ask(d.dns_port, zone, rtype::NS).await;
    assert_eq!(ns(&m), ["a.vanity.test.", "b.vanity.test."], "the next answer shows the settings");
    assert!(m.answers.iter().all(|r| r.ttl == 600));
    assert_eq!(a_records(&ask(d.dns_port, "a.vanity.test", rtype::A).await), [[127, 0, 0, 11]]);
    let soa = ask(d.dns_port, zone, rtype::SOA).await;
    let mname = Name::from_wire(&soa.answers[0].rdata[..15]).map(|n| n.to_string()).unwrap_or_default();
    assert_eq!(mname, "a.vanity.test.", "the SOA MNAME is the first nameserver");

    // The primary goes away and the daemon restarts: answers come from the store at once.
    b.stop();
    d.restart().await;
    let m = ask(d.dns_port, "h1.vanity.test", rtype::A).await;
    assert_eq!(a_records(&m), [[10, 0, 0, 2]]);
    assert_eq!(ns(&ask(d.dns_port, zone, rtype::NS).await), ["a.vanity.test.", "b.vanity.test."]);

    let r = d.call("DELETE", &format!("/v2/1/zones/{zone}/ns_records"), None).await;
    assert_eq!(r.status, 204);
    assert_eq!(ns(&ask(d.dns_port, zone, rtype::NS).await), ["ns1.vanity.test."]);
}

/// Every version of this zone has `n` TXT records at `ver`, each the serial, and
/// an A record at `v<serial>`; an answer that mixes versions shows two serials.
fn versioned_zone(zone: &str, serial: u32, size: usize) -> String {
    let mut z = small_zone(zone, serial, size, "3600 600 86400 60");
    for i in 0..8 {
        z.push_str(&format!("ver IN TXT \"{serial}\" \"{i}\"\n"));
    }
    z.push_str(&format!("v{serial} IN A 10.1.{}.{}\n", serial / 250, serial % 250));
    z
}

#[tokio::test]
async fn queries_during_commits_see_the_old_or_the_new_version_never_a_mix() {
    let zone = "busy.test";
    let b = Bind::start(&[bind::Zone { name: zone, text: versioned_zone(zone, 1, 2000) }], Access::Open, None).await;
    let d = Daemon::start(FAST_TIMERS).await;
    d.add_linked("bind", addr(&b), None, zone).await;
    d.wait_serial(zone, 1).await;

    let port = d.dns_port;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hammer = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut last = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let m = ask(port, "ver.busy.test", rtype::TXT).await;
                assert_eq!(m.header.rcode(), rcode::NOERROR, "{m:?}");
                let serials: std::collections::BTreeSet<Vec<u8>> =
                    m.answers.iter().map(|r| r.rdata[1..1 + usize::from(r.rdata[0])].to_vec()).collect();
                assert_eq!(m.answers.len(), 8, "a whole RRset: {m:?}");
                assert_eq!(serials.len(), 1, "one version per answer: {serials:?}");
                let s: u32 = String::from_utf8_lossy(serials.iter().next().map(Vec::as_slice).unwrap_or_default())
                    .parse()
                    .expect("serial text");
                assert!(s >= last, "versions never go back: {last} then {s}");
                last = s;
                if seen.last() != Some(&s) {
                    seen.push(s);
                }
            }
            seen
        })
    };
    // Three IXFRs, then a forced full transfer, all under load.
    for serial in 2..=4 {
        b.update_zone(zone, &versioned_zone(zone, serial, 2000), serial).await;
        d.call("POST", &format!("/v2/1/zones/{zone}/refresh"), None).await;
        d.wait_serial(zone, serial).await;
    }
    d.call("POST", &format!("/v2/1/zones/{zone}/retransfer"), None).await;
    d.wait_zone(zone, "the forced AXFR", |z| {
        z["transfer"]["last_transfer"]["type"] == "AXFR" && z["transfer"]["serial"] == 4
    })
    .await;
    wait_answer(port, "v4.busy.test", rtype::A, "the last version", |m| !m.answers.is_empty()).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen = hammer.await.expect("the query task");
    assert_eq!(seen.last(), Some(&4), "the last version was seen: {seen:?}");
    assert!(ask(port, "v1.busy.test", rtype::A).await.answers.is_empty(), "the old names are gone");
}
