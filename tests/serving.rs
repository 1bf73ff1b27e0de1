//! Answers from the serving view, across the zone's life: first copy, IXFR,
//! NS settings, expiry and recovery, restart, and commits under query load.
//! (The answer-by-answer comparison with BIND is `tests/answers.rs`.)

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::bind::{self, Access, Bind};
use common::{small_zone, Daemon, FAST_TIMERS};
use secondaryd::model::ZoneState;
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
    assert_eq!(common::last_kind(&z), Some("IXFR"));
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
    d.wait_zone(zone, "expiry", |z| z.transfer.state == ZoneState::Expired).await;
    assert_eq!(ask(d.dns_port, "h1.expiring.test", rtype::A).await.header.rcode(), rcode::SERVFAIL);
    b.start_again().await;
    d.wait_zone(zone, "recovery", |z| z.transfer.state == ZoneState::Ok).await;
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
    d.wait_zone(zone, "the forced AXFR", |z| common::last_kind(z) == Some("AXFR") && z.transfer.serial == Some(4))
        .await;
    wait_answer(port, "v4.busy.test", rtype::A, "the last version", |m| !m.answers.is_empty()).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen = hammer.await.expect("the query task");
    assert_eq!(seen.last(), Some(&4), "the last version was seen: {seen:?}");
    assert!(ask(port, "v1.busy.test", rtype::A).await.answers.is_empty(), "the old names are gone");
}

/// A query with an OPT record (RFC 6891): UDP size, version, DO, and raw options.
fn edns_query(qname: &str, qtype: u16, version: u8, options: &[u8]) -> Vec<u8> {
    let mut q = wire::build_query(0x0e0e, &Name::from_ascii(qname).expect("name"), qtype, None);
    q[11] += 1;
    q.push(0);
    q.extend_from_slice(&rtype::OPT.to_be_bytes());
    q.extend_from_slice(&1232u16.to_be_bytes());
    q.extend_from_slice(&[0, version, 0x80, 0]);
    q.extend_from_slice(&(options.len() as u16).to_be_bytes());
    q.extend_from_slice(options);
    q
}

/// Sends raw bytes over UDP; the raw reply, if one comes within a second.
async fn exchange_raw(port: u16, bytes: &[u8]) -> Option<Vec<u8>> {
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    sock.send_to(bytes, ("127.0.0.1", port)).await.expect("send");
    let mut buf = vec![0u8; 65_535];
    match tokio::time::timeout(Duration::from_secs(1), sock.recv_from(&mut buf)).await {
        Ok(Ok((n, _))) => Some(buf[..n].to_vec()),
        _ => None,
    }
}

/// One query over TCP (2-byte length framing); the parsed reply.
async fn ask_tcp(port: u16, qname: &str, qtype: u16) -> Message {
    ask_tcp_raw(port, &wire::build_query(0x7c9, &Name::from_ascii(qname).expect("name"), qtype, None)).await
}

/// The message `q` over TCP; the parsed reply.
async fn ask_tcp_raw(port: u16, q: &[u8]) -> Message {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    tcp_exchange(&mut s, q).await
}

fn big_zone(zone: &str) -> String {
    let mut z = small_zone(zone, 1, 2, "3600 600 86400 60");
    for i in 0..30 {
        z.push_str(&format!("big IN TXT \"{i:02} {}\"\n", "x".repeat(50)));
    }
    z
}

#[tokio::test]
async fn unusual_and_malformed_queries_get_the_right_rcode_and_no_reply_larger_than_the_query() {
    let zone = "edge.test";
    let b = Bind::start(&[bind::Zone { name: zone, text: big_zone(zone) }], Access::Open, None).await;
    let d = Daemon::start(FAST_TIMERS).await;
    d.add_linked("bind", addr(&b), None, zone).await;
    d.wait_serial(zone, 1).await;
    let port = d.dns_port;

    // Two questions: FORMERR, no larger than the query.
    let mut two = wire::build_query(1, &Name::from_ascii("h0.edge.test").expect("n"), rtype::A, None);
    let question = two[12..].to_vec();
    two.extend_from_slice(&question);
    two[5] = 2;
    let r = exchange_raw(port, &two).await.expect("a reply");
    assert_eq!(r[3] & 0x0f, rcode::FORMERR as u8);
    assert!(r.len() <= two.len(), "{} > {}", r.len(), two.len());
    // Two OPT records: FORMERR with the bare header.
    let mut opts = edns_query("h0.edge.test", rtype::A, 0, &[]);
    let opt = opts[opts.len() - 11..].to_vec();
    opts.extend_from_slice(&opt);
    opts[11] = 2;
    let r = exchange_raw(port, &opts).await.expect("a reply");
    assert_eq!((r.len(), r[3] & 0x0f), (12, rcode::FORMERR as u8));
    // EDNS version 1: BADVERS (16 = extended rcode 1 in the OPT), no records.
    let r = exchange_raw(port, &edns_query("h0.edge.test", rtype::A, 1, &[])).await.expect("a reply");
    let m = wire::parse_message(&r).expect("parses");
    assert_eq!(m.opt.as_ref().map(|o| o.ttl >> 24), Some(1), "BADVERS");
    assert!(m.answers.is_empty());
    // An unknown opcode: NOTIMP.
    let mut q = wire::build_query(3, &Name::from_ascii("h0.edge.test").expect("n"), rtype::A, None);
    q[2] |= 2 << 3;
    let r = exchange_raw(port, &q).await.expect("a reply");
    assert_eq!(r[3] & 0x0f, rcode::NOTIMP as u8);
    // AXFR over UDP is a FORMERR (RFC 5936 §4.2), and CHAOS identity is not
    // disclosed by default.
    assert_eq!(ask(port, zone, rtype::AXFR).await.header.rcode(), rcode::FORMERR);
    let mut chaos = wire::build_query(4, &Name::from_ascii("version.bind").expect("n"), rtype::TXT, None);
    let at = chaos.len() - 1;
    chaos[at] = 3; // class CH
    let r = exchange_raw(port, &chaos).await.expect("a reply");
    assert_eq!(r[3] & 0x0f, rcode::REFUSED as u8);
    // Not our zone, with a cookie option: REFUSED, no larger than the query.
    let cookie = [0u8, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8];
    let q = edns_query("www.example.org", rtype::A, 0, &cookie);
    let r = exchange_raw(port, &q).await.expect("a reply");
    assert_eq!(r[3] & 0x0f, rcode::REFUSED as u8);
    assert!(r.len() <= q.len(), "{} > {}", r.len(), q.len());
    // A garbage fragment: no reply at all.
    assert!(exchange_raw(port, b"\x01\x02\x03").await.is_none());

    // 30 TXT records do not fit 512 bytes: TC over UDP, all of them over TCP.
    let udp = ask(port, "big.edge.test", rtype::TXT).await;
    assert!(udp.header.tc(), "truncated over UDP");
    assert!(udp.answers.is_empty());
    let tcp = ask_tcp(port, "big.edge.test", rtype::TXT).await;
    assert!(!tcp.header.tc());
    assert_eq!(tcp.answers.len(), 30);
    // 30 × 66 bytes exceed EDNS's 1232 too: TC, and the reply within the limit.
    let r = exchange_raw(port, &edns_query("big.edge.test", rtype::TXT, 0, &[])).await.expect("a reply");
    assert!(r.len() <= 1232 && r[2] & 0x02 != 0, "{} bytes, flags {:#x}", r.len(), r[2]);
    let st = d.call("GET", "/v2/status", None).await;
    let qs = &st.body["data"]["queries"];
    assert!(qs["formerr"].as_u64() >= Some(1) && qs["refused"].as_u64() >= Some(2), "{qs}");
    assert_eq!(qs["rate_limit"]["enabled"], false);
}

#[tokio::test]
async fn chaos_identity_and_nsid_are_answered_only_when_configured() {
    let d = Daemon::start("[dns]\nlisten = [\"127.0.0.1:{dns_port}\"]\nversion = \"secondaryd test\"\nidentity = \"ns-test-1\"\nnsid = \"site-a\"\n").await;
    for (name, want) in [
        ("version.bind", "secondaryd test"),
        ("VERSION.server", "secondaryd test"),
        ("hostname.bind", "ns-test-1"),
        ("id.server", "ns-test-1"),
    ] {
        let mut q = wire::build_query(9, &Name::from_ascii(name).expect("n"), rtype::TXT, None);
        let at = q.len() - 1;
        q[at] = 3;
        let m = wire::parse_message(&exchange_raw(d.dns_port, &q).await.expect("a reply")).expect("parses");
        assert_eq!(m.header.rcode(), rcode::NOERROR, "{name}");
        assert_eq!(m.answers[0].rdata[1..], *want.as_bytes(), "{name}");
    }
    // NSID (RFC 5001): asked with an empty option 3, answered in the OPT
    // (on answers; refusals stay no larger than their query).
    let mut q = edns_query("version.bind", rtype::TXT, 0, &[0, 3, 0, 0]);
    let class_at = 12 + Name::from_ascii("version.bind").expect("n").as_wire().len() + 3;
    q[class_at] = 3;
    let m = wire::parse_message(&exchange_raw(d.dns_port, &q).await.expect("a reply")).expect("parses");
    let opt = m.opt.expect("an OPT");
    assert!(opt.rdata.windows(6).any(|w| w == b"site-a"), "{:?}", opt.rdata);
}

#[tokio::test]
async fn rate_limiting_drops_and_slips_udp_answers_over_the_rate_and_counts_them() {
    let zone = "rrl.test";
    let b = Bind::start(
        &[bind::Zone { name: zone, text: small_zone(zone, 1, 2, "3600 600 86400 60") }],
        Access::Open,
        None,
    )
    .await;
    let d = Daemon::start(&format!(
        "{FAST_TIMERS}[dns]\nlisten = [\"127.0.0.1:{{dns_port}}\"]\nrate_limit = 5\nrate_limit_slip = 2\n"
    ))
    .await;
    d.add_linked("bind", addr(&b), None, zone).await;
    d.wait_serial(zone, 1).await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let q = wire::build_query(0x11, &Name::from_ascii("h0.rrl.test").expect("n"), rtype::A, None);
    for _ in 0..40 {
        sock.send_to(&q, ("127.0.0.1", d.dns_port)).await.expect("send");
    }
    let (mut full, mut slipped) = (0, 0);
    let mut buf = vec![0u8; 4096];
    while let Ok(Ok((n, _))) = tokio::time::timeout(Duration::from_millis(500), sock.recv_from(&mut buf)).await {
        let m = wire::parse_message(&buf[..n]).expect("parses");
        if m.header.tc() {
            assert!(m.answers.is_empty());
            slipped += 1;
        } else {
            assert_eq!(a_records(&m), [[10, 0, 0, 1]]);
            full += 1;
        }
    }
    assert!((5..=7).contains(&full), "about the rate got through: {full}");
    assert!((15..=20).contains(&slipped), "every second limited answer slipped: {slipped}");
    // TCP is never limited.
    assert_eq!(a_records(&ask_tcp(d.dns_port, "h0.rrl.test", rtype::A).await), [[10, 0, 0, 1]]);
    let st = d.call("GET", "/v2/status", None).await;
    let rl = &st.body["data"]["queries"]["rate_limit"];
    assert_eq!(rl["enabled"], true);
    assert!(rl["dropped"].as_u64() >= Some(15) && rl["slipped"].as_u64() >= Some(15), "{rl}");
    assert!(d.log().contains("response rate limiting is dropping UDP answers"), "{}", d.log());
    let (code, out, err) = d.ctl(&["status"]);
    assert_eq!(code, 0, "{err}");
    let line = out.lines().find(|l| l.starts_with("queries:")).unwrap_or_default();
    assert!(
        line.contains("rate limiting:") && line.contains("dropped") && !line.starts_with("queries: 0 noerror"),
        "{out}"
    );
}

/// A request of `n` questions (opcode `op`): the first a long name, the others
/// 2-byte pointers to it, as an attacker packs them.
fn many_questions(op: u8, n: u16) -> Vec<u8> {
    let mut q = vec![0x0a, 0x0b, op << 3, 0];
    q.extend_from_slice(&n.to_be_bytes());
    q.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    for _ in 0..4 {
        q.push(60);
        q.extend_from_slice(&[b'x'; 60]);
    }
    q.push(0);
    q.extend_from_slice(&[0, 6, 0, 1]);
    for _ in 1..n {
        q.extend_from_slice(&[0xc0, 12, 0, 6, 0, 1]);
    }
    q
}

#[tokio::test]
async fn an_error_answer_carries_one_question_at_most_and_is_never_larger_than_the_request() {
    let d = Daemon::start("").await;
    let port = d.dns_port;
    // NOTIMP (opcode 2), NOTIFY FORMERR (several questions), QUERY FORMERR.
    for op in [2u8, wire::opcode::NOTIFY, wire::opcode::QUERY] {
        let q = many_questions(op, 251);
        let r = exchange_raw(port, &q).await.unwrap_or_else(|| panic!("a reply to opcode {op}"));
        assert!(r.len() <= q.len(), "opcode {op}: {} bytes for a {}-byte request", r.len(), q.len());
        assert!(u16::from_be_bytes([r[4], r[5]]) <= 1, "opcode {op}: QDCOUNT {}", u16::from_be_bytes([r[4], r[5]]));
        assert_ne!(r[3] & 0x0f, rcode::NOERROR as u8, "opcode {op}");
    }
    // Over TCP too: one question echoed, and the stream stays in step.
    let m = ask_tcp_raw(port, &many_questions(2, 10_000)).await;
    assert_eq!((m.header.rcode(), m.questions.len()), (rcode::NOTIMP, 1));
}

/// A TXT RRset of 40 records of 1,624 bytes: a 65,471-byte answer over TCP,
/// which fits 65,535 unsigned but not with a TSIG added.
fn near_limit_zone(zone: &str) -> String {
    let mut z = small_zone(zone, 1, 1, "3600 600 86400 60");
    let long = format!("\"{}\"", "x".repeat(255));
    for i in 0..40 {
        let strings = [long.as_str(); 6].join(" ");
        z.push_str(&format!("big IN TXT {strings} \"{i:02}{}\"\n", "y".repeat(85)));
    }
    z
}

/// Sends one framed message on `s`; the framed reply, parsed.
async fn tcp_exchange(s: &mut tokio::net::TcpStream, q: &[u8]) -> Message {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut frame = (q.len() as u16).to_be_bytes().to_vec();
    frame.extend_from_slice(q);
    s.write_all(&frame).await.expect("write");
    let mut len = [0u8; 2];
    s.read_exact(&mut len).await.expect("length");
    let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut reply).await.expect("reply");
    wire::parse_message(&reply).unwrap_or_else(|e| panic!("a {}-byte reply that does not parse: {e}", reply.len()))
}

#[tokio::test]
async fn a_signed_answer_over_tcp_is_built_to_fit_65535_bytes_and_the_stream_stays_in_step() {
    use common::bind::{KEY_NAME, KEY_SECRET};
    use secondaryd::wire::tsig::{self, TsigKey};
    let zone = "huge.test";
    let b = Bind::start(&[bind::Zone { name: zone, text: near_limit_zone(zone) }], Access::Open, None).await;
    let d =
        Daemon::start(&format!("{FAST_TIMERS}[[tsig_key]]\nname = \"{KEY_NAME}\"\nsecret = \"{KEY_SECRET}\"\n")).await;
    d.add_linked("bind", addr(&b), None, zone).await;
    d.wait_serial(zone, 1).await;
    let key = TsigKey::from_parts(KEY_NAME, "hmac-sha256", KEY_SECRET).expect("key");
    let name = Name::from_ascii("big.huge.test").expect("name");
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", d.dns_port)).await.expect("connect");
    // Unsigned (RD set, so no authority section): the whole RRset.
    let mut q = wire::build_query(1, &name, rtype::TXT, None);
    q[2] |= 0x01;
    let m = tcp_exchange(&mut s, &q).await;
    assert_eq!((m.answers.len(), m.header.tc()), (40, false), "the precondition: 40 records fit unsigned");
    // Signed: the TSIG does not fit beside them; a well-framed, signed answer.
    let mut q = wire::build_query(2, &name, rtype::TXT, None);
    q[2] |= 0x01;
    tsig::sign_request(&mut q, &key, tsig::unix_now()).expect("sign");
    let m = tcp_exchange(&mut s, &q).await;
    assert_eq!(m.header.id, 2);
    assert!(m.tsig.is_some(), "signed");
    assert!(m.header.tc() || m.header.rcode() == rcode::SERVFAIL, "cut to fit: {:?}", m.header);
    // And the connection still answers in step.
    let q = wire::build_query(3, &Name::from_ascii("h0.huge.test").expect("name"), rtype::A, None);
    assert_eq!(tcp_exchange(&mut s, &q).await.header.id, 3);
}
