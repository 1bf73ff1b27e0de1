//! NOTIFY (RFC 1996) from BIND and from hand-made packets: accepted only from
//! a zone's primaries, TSIG checked, and it only ever schedules a refresh.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::bind::{self, Access, Bind, KEY_NAME, KEY_SECRET};
use common::{small_zone, Daemon};
use secondaryd::model::ZoneState;
use secondaryd::wire::tsig::{self, TsigKey};
use secondaryd::wire::{self, rcode, Name};
use tokio::net::UdpSocket;

fn key_config() -> String {
    format!("[[tsig_key]]\nname = \"{KEY_NAME}\"\nsecret = \"{KEY_SECRET}\"\n")
}

/// A NOTIFY for `zone` (opcode 4, AA), optionally with the new SOA serial and a TSIG.
fn notify_packet(zone: &str, key: Option<&TsigKey>) -> Vec<u8> {
    let name = Name::from_ascii(zone).expect("zone name");
    let mut m = wire::build_query(0x4242, &name, wire::rtype::SOA, None);
    let flags = (u16::from(wire::opcode::NOTIFY) << 11) | 0x0400;
    m[2..4].copy_from_slice(&flags.to_be_bytes());
    if let Some(k) = key {
        tsig::sign_request(&mut m, k, tsig::unix_now()).expect("sign NOTIFY");
    }
    m
}

/// Sends `packet` from `from` (an address on 127/8) and returns the reply, if any.
async fn exchange(from: &str, to: u16, packet: &[u8]) -> Option<wire::Message> {
    let sock = UdpSocket::bind((from, 0)).await.expect("bind client socket");
    sock.send_to(packet, ("127.0.0.1", to)).await.expect("send");
    let mut buf = vec![0u8; 4096];
    match tokio::time::timeout(Duration::from_millis(700), sock.recv(&mut buf)).await {
        Ok(Ok(n)) => Some(wire::parse_message(&buf[..n]).expect("parse reply")),
        _ => None,
    }
}

#[tokio::test]
async fn notify_from_bind_brings_the_new_serial_within_a_second_by_ixfr() {
    let zone = "notified.test";
    let timers = "3600 600 604800 300";
    let d = Daemon::start("").await;
    let b = Bind::start(
        &[bind::Zone { name: zone, text: small_zone(zone, 1, 50, timers) }],
        Access::Open,
        Some(d.dns_port),
    )
    .await;
    d.add_linked("bind", SocketAddr::from(([127, 0, 0, 1], b.port)), None, zone).await;
    d.wait_serial(zone, 1).await;

    for serial in 2..=4 {
        let text =
            small_zone(zone, serial, 50, timers).replace("h3 IN A 10.0.0.4", &format!("h3 IN A 10.9.9.{serial}"));
        b.update_zone(zone, &text, serial).await;
        let served_at = Instant::now();
        let z = d.wait_serial(zone, serial).await;
        let lag = served_at.elapsed();
        assert!(lag < Duration::from_secs(1), "serial {serial} took {lag:?} after BIND served it");
        assert_eq!(common::last_kind(&z), Some("IXFR"), "{:#?}", z.transfer);
        let n = &z.transfer.last_notify;
        assert!(n.as_ref().is_some_and(|n| n.from.starts_with("127.0.0.1:")), "{n:?}");
    }
    assert_eq!(bind::canonical(zone, &d.export(zone).await), bind::canonical(zone, &b.dig_axfr(zone)));
    let st = d.call("GET", "/v2/status", None).await;
    assert!(st.body["data"]["notify"]["accepted"].as_u64().unwrap_or(0) >= 3, "{:?}", st.body);
}

#[tokio::test]
async fn notify_is_refused_from_strangers_bad_keys_and_for_unknown_zones() {
    let d = Daemon::start(&key_config()).await;
    // Primaries on 127.0.0.1 at a port where nothing listens: refreshes fail, which is fine here.
    let r = d
        .call(
            "POST",
            "/v2/1/secondary_dns/primaries",
            Some(serde_json::json!({ "name": "strict", "ip": "127.0.0.1", "port": 9, "tsig_key": KEY_NAME, "notify_requires_tsig": true })),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    d.add_linked("lax", SocketAddr::from(([127, 0, 0, 1], 9)), None, "lax.test").await;
    let r = d.call("POST", "/v2/1/secondary_dns/zones", Some(serde_json::json!({ "name": "strict.test" }))).await;
    assert_eq!(r.status, 201);
    let r = d
        .call("PUT", "/v2/1/secondary_dns/primaries/strict/link", Some(serde_json::json!({ "zone": "strict.test" })))
        .await;
    assert_eq!(r.status, 200);
    let key = TsigKey::from_parts(KEY_NAME, "hmac-sha256", KEY_SECRET).expect("key");
    let wrong =
        TsigKey::from_parts(KEY_NAME, "hmac-sha256", "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZyE=").expect("key");

    // From a primary's address: accepted, AA set, question echoed.
    let ok = exchange("127.0.0.1", d.dns_port, &notify_packet("LAX.test.", None)).await.expect("a reply");
    assert_eq!(ok.header.rcode(), rcode::NOERROR);
    assert!(ok.header.aa() && ok.header.is_response());
    assert_eq!(ok.header.opcode(), wire::opcode::NOTIFY);
    assert_eq!(ok.questions[0].name.to_string().to_lowercase(), "lax.test.");
    let z = d.wait_zone("lax.test", "the NOTIFY to be recorded", |z| z.transfer.last_notify.is_some()).await;
    assert!(z.transfer.last_notify.is_some_and(|n| n.from.starts_with("127.0.0.1:")));

    // From another address of 127/8: not a primary.
    let r = exchange("127.0.0.2", d.dns_port, &notify_packet("lax.test", None)).await.expect("a reply");
    assert_eq!(r.header.rcode(), rcode::REFUSED);
    // A zone we do not hold.
    let r = exchange("127.0.0.1", d.dns_port, &notify_packet("unknown.test", None)).await.expect("a reply");
    assert_eq!(r.header.rcode(), rcode::NOTAUTH);
    // Signed with the right key name but the wrong secret: NOTAUTH with BADSIG, unsigned.
    let r = exchange("127.0.0.1", d.dns_port, &notify_packet("strict.test", Some(&wrong))).await.expect("a reply");
    assert_eq!(r.header.rcode(), rcode::NOTAUTH);
    assert_eq!(r.tsig.as_ref().map(|t| t.error), Some(rcode::BADSIG));
    // Unsigned to a primary that requires TSIG.
    let r = exchange("127.0.0.1", d.dns_port, &notify_packet("strict.test", None)).await.expect("a reply");
    assert_eq!(r.header.rcode(), rcode::REFUSED);
    // Correctly signed: accepted and the reply is signed.
    let r = exchange("127.0.0.1", d.dns_port, &notify_packet("strict.test", Some(&key))).await.expect("a reply");
    assert_eq!(r.header.rcode(), rcode::NOERROR);
    assert!(r.tsig.is_some(), "the reply to a signed NOTIFY is signed");
    // Another opcode (UPDATE, RFC 2136): not implemented.
    let mut q = wire::build_query(7, &Name::from_ascii("lax.test").expect("name"), wire::rtype::SOA, None);
    q[2] |= wire::opcode::UPDATE << 3;
    let r = exchange("127.0.0.1", d.dns_port, &q).await.expect("a reply");
    assert_eq!(r.header.rcode(), rcode::NOTIMP);
    // Garbage: no reply at all, and the daemon carries on.
    assert!(exchange("127.0.0.1", d.dns_port, b"\x01\x02garbage").await.is_none());
    let st = d.call("GET", "/v2/status", None).await;
    assert_eq!(st.status, 200);
    let n = &st.body["data"]["notify"];
    assert!(n["malformed_dropped"].as_u64() >= Some(1), "{n}");
    assert!(n["refused"].as_u64() >= Some(4), "{n}");
    assert!(n["accepted"].as_u64() >= Some(2), "{n}");
}

#[tokio::test]
async fn a_notify_flood_for_one_zone_merges_into_few_refreshes() {
    let zone = "flood.test";
    let d = Daemon::start("").await;
    let b = Bind::start(
        &[bind::Zone { name: zone, text: small_zone(zone, 1, 10, "3600 600 604800 300") }],
        Access::Open,
        None,
    )
    .await;
    d.add_linked("bind", SocketAddr::from(([127, 0, 0, 1], b.port)), None, zone).await;
    let z = d.wait_serial(zone, 1).await;
    let before = z.transfer.attempts;
    let sock = UdpSocket::bind(("127.0.0.1", 0)).await.expect("bind");
    let packet = notify_packet(zone, None);
    for _ in 0..2000 {
        sock.send_to(&packet, ("127.0.0.1", d.dns_port)).await.expect("send");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let z = d.wait_attempt(zone, before).await;
    let after = z.transfer.attempts;
    assert!(after - before < 100, "2000 NOTIFYs caused {} refreshes", after - before);
    assert_eq!(z.transfer.state, ZoneState::Ok);
}

#[tokio::test]
async fn the_default_style_listen_pair_binds_ipv4_and_ipv6_wildcards_side_by_side() {
    // Like the default ["0.0.0.0:53", "[::]:53"]: on Linux a dual-stack [::] would collide.
    let d = Daemon::start("[dns]\nlisten = [\"0.0.0.0:{dns_port}\", \"[::]:{dns_port}\"]\n").await;
    let r = exchange("127.0.0.1", d.dns_port, &notify_packet("nowhere.test", None)).await.expect("a reply over IPv4");
    assert_eq!(r.header.rcode(), rcode::NOTAUTH);
    let sock = UdpSocket::bind("[::1]:0").await.expect("bind ::1");
    sock.send_to(&notify_packet("nowhere.test", None), ("::1", d.dns_port)).await.expect("send");
    let mut buf = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(2), sock.recv(&mut buf))
        .await
        .expect("a reply over IPv6")
        .expect("recv");
    assert_eq!(wire::parse_message(&buf[..n]).expect("parse").header.rcode(), rcode::NOTAUTH);
}
