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

/// The RFC 8945 §4.3.3 variables of a TSIG, as the MAC covers them.
fn tsig_variables(key: &TsigKey, time: u64, fudge: u16, error: u16, other: &[u8]) -> Vec<u8> {
    let mut v = key.name.to_lowercase().as_wire().to_vec();
    v.extend_from_slice(&[0, 255, 0, 0, 0, 0]);
    v.extend_from_slice(Name::from_ascii("hmac-sha256").expect("alg").as_wire());
    v.extend_from_slice(&time.to_be_bytes()[2..]);
    v.extend_from_slice(&fudge.to_be_bytes());
    v.extend_from_slice(&error.to_be_bytes());
    v.extend_from_slice(&(other.len() as u16).to_be_bytes());
    v.extend_from_slice(other);
    v
}

/// Signs `m` by hand (hmac-sha256): Time Signed `time`, `fudge`, the MAC cut to `mac_len`. The MAC.
fn sign_by_hand(m: &mut Vec<u8>, key: &TsigKey, time: u64, fudge: u16, mac_len: usize) -> Vec<u8> {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key.secret);
    let mut ctx = ring::hmac::Context::with_key(&k);
    ctx.update(m);
    ctx.update(&tsig_variables(key, time, fudge, 0, &[]));
    let mac = ctx.sign().as_ref()[..mac_len].to_vec();
    let mut rdata = Name::from_ascii("hmac-sha256").expect("alg").as_wire().to_vec();
    rdata.extend_from_slice(&time.to_be_bytes()[2..]);
    rdata.extend_from_slice(&fudge.to_be_bytes());
    rdata.extend_from_slice(&(mac.len() as u16).to_be_bytes());
    rdata.extend_from_slice(&mac);
    rdata.extend_from_slice(&m[..2]);
    rdata.extend_from_slice(&[0, 0, 0, 0]);
    wire::append_record(m, wire::Section::Additional, &key.name, wire::rtype::TSIG, 255, 0, &rdata).expect("append");
    mac
}

/// Whether `reply`'s TSIG is a valid signature by `key` over it and `request_mac` (RFC 8945 §5.3.2).
fn reply_signed_by(reply: &[u8], key: &TsigKey, request_mac: &[u8]) -> bool {
    let Ok(m) = wire::parse_message(reply) else { return false };
    let Some(t) = m.tsig else { return false };
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key.secret);
    let mut ctx = ring::hmac::Context::with_key(&k);
    ctx.update(&(request_mac.len() as u16).to_be_bytes());
    ctx.update(request_mac);
    let mut head = reply[..12].to_vec();
    head[..2].copy_from_slice(&t.original_id.to_be_bytes());
    let ar = u16::from_be_bytes([head[10], head[11]]) - 1;
    head[10..12].copy_from_slice(&ar.to_be_bytes());
    ctx.update(&head);
    ctx.update(&reply[12..t.offset]);
    ctx.update(&tsig_variables(key, t.time_signed, t.fudge, t.error, &t.other));
    !t.mac.is_empty() && ctx.sign().as_ref() == t.mac.as_slice()
}

/// Sends `packet` from 127.0.0.1; the raw reply.
async fn exchange_bytes(to: u16, packet: &[u8]) -> Vec<u8> {
    let sock = UdpSocket::bind(("127.0.0.1", 0)).await.expect("bind client socket");
    sock.send_to(packet, ("127.0.0.1", to)).await.expect("send");
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(2), sock.recv(&mut buf)).await.expect("a reply").expect("recv");
    buf.truncate(n);
    buf
}

#[tokio::test]
async fn tsig_badtime_and_badtrunc_answers_are_signed_and_the_senders_fudge_is_bounded() {
    let d = Daemon::start(&key_config()).await;
    let r = d
        .call(
            "POST",
            "/v2/1/secondary_dns/primaries",
            Some(serde_json::json!({ "name": "signer", "ip": "127.0.0.1", "port": 9, "tsig_key": KEY_NAME })),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = d.call("POST", "/v2/1/secondary_dns/zones", Some(serde_json::json!({ "name": "signed.test" }))).await;
    assert_eq!(r.status, 201);
    let r = d
        .call("PUT", "/v2/1/secondary_dns/primaries/signer/link", Some(serde_json::json!({ "zone": "signed.test" })))
        .await;
    assert_eq!(r.status, 200);
    let key = TsigKey::from_parts(KEY_NAME, "hmac-sha256", KEY_SECRET).expect("key");
    let now = tsig::unix_now();

    // Signed 1,000 s ago with a fudge of 300: BADTIME, signed, with our clock in Other Data
    // and the request's Time Signed.
    let mut m = notify_packet("signed.test", None);
    let mac = sign_by_hand(&mut m, &key, now - 1000, 300, 32);
    let reply = exchange_bytes(d.dns_port, &m).await;
    let r = wire::parse_message(&reply).expect("parse");
    let t = r.tsig.as_ref().expect("a TSIG");
    assert_eq!((r.header.rcode(), t.error), (rcode::NOTAUTH, rcode::BADTIME));
    assert!(reply_signed_by(&reply, &key, &mac), "a BADTIME answer is signed with the request's key: {t:?}");
    assert_eq!(t.other.len(), 6, "our time in Other Data");
    let ours = t.other.iter().fold(0u64, |a, &b| (a << 8) | u64::from(b));
    assert!(ours.abs_diff(tsig::unix_now()) < 5, "{ours}");
    assert_eq!((t.time_signed, t.fudge), (now - 1000, 300));

    // The same skew claimed to be fine by a fudge of 65,535 s: still BADTIME.
    let mut m = notify_packet("signed.test", None);
    let mac = sign_by_hand(&mut m, &key, now - 1000, 65_535, 32);
    let reply = exchange_bytes(d.dns_port, &m).await;
    let r = wire::parse_message(&reply).expect("parse");
    assert_eq!(r.tsig.as_ref().map(|t| (t.error, t.fudge)), Some((rcode::BADTIME, 300)), "our fudge in answers");
    assert!(reply_signed_by(&reply, &key, &mac));
    let z = d.zone("signed.test").await;
    assert!(z.transfer.last_notify.is_none(), "not accepted: {:?}", z.transfer.last_notify);

    // A valid MAC cut to 12 bytes (hmac-sha256 needs 16): BADTRUNC, signed.
    let mut m = notify_packet("signed.test", None);
    let mac = sign_by_hand(&mut m, &key, now, 300, 12);
    let reply = exchange_bytes(d.dns_port, &m).await;
    let r = wire::parse_message(&reply).expect("parse");
    assert_eq!((r.header.rcode(), r.tsig.as_ref().map(|t| t.error)), (rcode::NOTAUTH, Some(rcode::BADTRUNC)));
    assert!(reply_signed_by(&reply, &key, &mac), "a BADTRUNC answer is signed");

    // Within the fudge, whole MAC: accepted and signed.
    let mut m = notify_packet("signed.test", None);
    let mac = sign_by_hand(&mut m, &key, now - 100, 300, 32);
    let reply = exchange_bytes(d.dns_port, &m).await;
    assert_eq!(wire::parse_message(&reply).expect("parse").header.rcode(), rcode::NOERROR);
    assert!(reply_signed_by(&reply, &key, &mac));
}

/// A TCP connection to the daemon from `from` (an address on 127/8).
async fn connect_from(from: &str, port: u16) -> tokio::net::TcpStream {
    let sock = tokio::net::TcpSocket::new_v4().expect("socket");
    sock.bind(SocketAddr::new(from.parse().expect("ip"), 0)).expect("bind");
    sock.connect(SocketAddr::from(([127, 0, 0, 1], port))).await.expect("connect")
}

/// Whether the server closed `s` within `wait` (EOF or reset; `false`: still open).
async fn closed_within(s: &mut tokio::net::TcpStream, wait: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut b = [0u8; 1];
    matches!(tokio::time::timeout(wait, s.read(&mut b)).await, Ok(Ok(0) | Err(_)))
}

/// One framed message on `s`; the reply, if it comes within two seconds.
async fn tcp_exchange(s: &mut tokio::net::TcpStream, q: &[u8]) -> Option<wire::Message> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut frame = (q.len() as u16).to_be_bytes().to_vec();
    frame.extend_from_slice(q);
    s.write_all(&frame).await.ok()?;
    let mut len = [0u8; 2];
    tokio::time::timeout(Duration::from_secs(2), s.read_exact(&mut len)).await.ok()?.ok()?;
    let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut reply).await.ok()?;
    wire::parse_message(&reply).ok()
}

#[tokio::test]
async fn idle_and_trickling_tcp_clients_cannot_keep_a_notify_out() {
    let d = Daemon::start(
        "[dns]\nlisten = [\"127.0.0.1:{dns_port}\"]\ntcp_connections = 6\ntcp_connections_per_client = 2\n\
         tcp_idle_timeout = 60\ntcp_max_lifetime = 3\n",
    )
    .await;
    let port = d.dns_port;
    // One address gets two connections; a third is closed at once.
    let mut first = connect_from("127.0.0.20", port).await;
    let mut second = connect_from("127.0.0.20", port).await;
    let mut third = connect_from("127.0.0.20", port).await;
    assert!(closed_within(&mut third, Duration::from_secs(2)).await, "over the per-client limit");
    assert!(!closed_within(&mut second, Duration::from_millis(200)).await);
    // Fill every slot with idle connections from other addresses.
    let mut idle = Vec::new();
    for i in 21..25 {
        idle.push(connect_from(&format!("127.0.0.{i}"), port).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A NOTIFY over TCP gets in at once: the longest-idle connection makes room.
    let started = Instant::now();
    let mut s = connect_from("127.0.0.1", port).await;
    let r = tcp_exchange(&mut s, &notify_packet("nowhere.test", None)).await.expect("a NOTIFY answered");
    assert_eq!(r.header.rcode(), rcode::NOTAUTH);
    assert!(started.elapsed() < Duration::from_secs(2), "the NOTIFY waited {:?}", started.elapsed());
    assert!(
        closed_within(&mut first, Duration::from_secs(1)).await,
        "the longest-idle connection was closed; log:\n{}",
        d.log()
    );

    // A client that trickles a query every half second is closed at its lifetime (3 s).
    let opened = Instant::now();
    let mut trickle = connect_from("127.0.0.30", port).await;
    let q = notify_packet("nowhere.test", None);
    while tcp_exchange(&mut trickle, &q).await.is_some() {
        assert!(opened.elapsed() < Duration::from_secs(6), "still open after {:?}", opened.elapsed());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(opened.elapsed() >= Duration::from_secs(2), "closed too early: {:?}", opened.elapsed());
}

#[tokio::test]
async fn the_notify_check_reads_memory_kept_in_step_with_links_and_takes_only_class_in_and_canonical_addresses() {
    let d = Daemon::start("").await;
    // A primary given as IPv4-mapped IPv6 is stored, and matched, as 127.0.0.1.
    let r = d
        .call(
            "POST",
            "/v2/1/secondary_dns/primaries",
            Some(serde_json::json!({ "name": "mapped", "ip": "::ffff:127.0.0.1", "port": 9 })),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["data"]["ip"], "127.0.0.1", "{:?}", r.body);
    let r = d.call("POST", "/v2/1/secondary_dns/zones", Some(serde_json::json!({ "name": "mapped.test" }))).await;
    assert_eq!(r.status, 201);
    // Not linked yet: refused, then accepted as soon as the link call returns.
    let r = exchange("127.0.0.1", d.dns_port, &notify_packet("mapped.test", None)).await.expect("a reply");
    assert_eq!(r.header.rcode(), rcode::REFUSED);
    let r = d
        .call("PUT", "/v2/1/secondary_dns/primaries/mapped/link", Some(serde_json::json!({ "zone": "mapped.test" })))
        .await;
    assert_eq!(r.status, 200);
    let r = exchange("127.0.0.1", d.dns_port, &notify_packet("mapped.test", None)).await.expect("a reply");
    assert_eq!(r.header.rcode(), rcode::NOERROR, "from the mapped primary's address");
    // Class CH for an IN zone: refused.
    let mut ch = notify_packet("mapped.test", None);
    let at = ch.len() - 1;
    ch[at] = 3;
    let r = exchange("127.0.0.1", d.dns_port, &ch).await.expect("a reply");
    assert_eq!(r.header.rcode(), rcode::REFUSED, "class CH");
    // Unlinked: refused again; zone deleted: not ours.
    let r = d
        .call("PUT", "/v2/1/secondary_dns/primaries/mapped/unlink", Some(serde_json::json!({ "zone": "mapped.test" })))
        .await;
    assert!(r.status == 200 || r.status == 204, "{:?}", r.body);
    let r = exchange("127.0.0.1", d.dns_port, &notify_packet("mapped.test", None)).await.expect("a reply");
    assert_eq!(r.header.rcode(), rcode::REFUSED, "unlinked");
    assert_eq!(d.call("DELETE", "/v2/1/domains/mapped.test", None).await.status, 204);
    let r = exchange("127.0.0.1", d.dns_port, &notify_packet("mapped.test", None)).await.expect("a reply");
    assert_eq!(r.header.rcode(), rcode::NOTAUTH, "deleted");
    // And after a restart, from the store.
    d.add_linked("again", SocketAddr::from(([127, 0, 0, 1], 9)), None, "again.test").await;
    let mut d = d;
    d.restart().await;
    let r = exchange("127.0.0.1", d.dns_port, &notify_packet("again.test", None)).await.expect("a reply");
    assert_eq!(r.header.rcode(), rcode::NOERROR, "after a restart");
    // A flood of refused NOTIFYs logs a line per 10 s, not one each.
    for _ in 0..50 {
        let _ = exchange("127.0.0.2", d.dns_port, &notify_packet("again.test", None)).await;
    }
    let lines = d.log().lines().filter(|l| l.contains("NOTIFY refused")).count();
    assert!(lines <= 3, "{lines} log lines for 50 refusals");
}
