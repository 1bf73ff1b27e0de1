//! Zones stay fresh by themselves: SOA refresh, retry with back-off, expiry,
//! recovery, and a restart that neither forgets nor stampedes.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::bind::{self, Access, Bind};
use common::{small_zone, Daemon, FAST_TIMERS};
use secondaryd::model::ZoneState;

fn addr(b: &Bind) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], b.port))
}

#[tokio::test]
async fn without_notify_the_soa_refresh_timer_alone_picks_up_a_change() {
    let zone = "refresh.test";
    // SOA refresh 2 s; the test clamps allow it.
    let timers = "2 1 600 60";
    let b = Bind::start(&[bind::Zone { name: zone, text: small_zone(zone, 1, 5, timers) }], Access::Open, None).await;
    let d = Daemon::start(FAST_TIMERS).await;
    d.add_linked("bind", addr(&b), None, zone).await;
    let z = d.wait_serial(zone, 1).await;
    assert_eq!(z.transfer.timers.map(|t| t.refresh), Some(2));
    assert!(z.transfer.next_refresh_at.is_some());
    b.update_zone(zone, &small_zone(zone, 2, 6, timers), 2).await;
    let z = d.wait_serial(zone, 2).await;
    assert_eq!(z.transfer.last_notify, None, "no NOTIFY was involved");
    assert_eq!(common::last_kind(&z), Some("IXFR"));
}

#[tokio::test]
async fn an_outage_means_growing_retries_then_expiry_then_recovery_without_a_hand() {
    let zone = "outage.test";
    // refresh 1 s, retry 1 s, expire 5 s.
    let timers = "1 1 5 60";
    let mut b =
        Bind::start(&[bind::Zone { name: zone, text: small_zone(zone, 50, 5, timers) }], Access::Open, None).await;
    let d = Daemon::start(FAST_TIMERS).await;
    d.add_linked("bind", addr(&b), None, zone).await;
    d.wait_serial(zone, 50).await;

    b.stop();
    // Between two attempts (while one runs, the state says `refreshing`).
    let z = d
        .wait_zone(zone, "a second failed retry", |z| {
            z.transfer.backoff >= 2 && z.transfer.state == ZoneState::Retrying
        })
        .await;
    assert!(common::last_error(&z).is_some_and(|m| m.contains("refused")), "{z:#?}");
    let z = d.wait_zone(zone, "expiry", |z| z.transfer.state == ZoneState::Expired).await;
    assert!(z.transfer.backoff >= 3, "retries went on: {:#?}", z.transfer);
    assert_eq!(z.transfer.serial, Some(50), "an expired zone keeps its data");
    let st = d.call("GET", "/v2/status", None).await;
    assert_eq!(st.body["data"]["zones"]["expired"], 1);
    assert_eq!(st.body["data"]["not_in_sync"][0]["name"], zone);
    let (code, out, _) = d.ctl(&["zone", "list", "--state", "expired"]);
    assert_eq!(code, 0);
    assert!(out.contains(zone), "{out}");
    let r = d.call("GET", &format!("/v2/1/zones/{zone}/distribution"), None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["data"]["distributed"], false, "an expired zone is not served (SERVFAIL): {:?}", r.body);

    // BIND comes back with an *older* serial (rebuilt from scratch): after
    // expiry that is taken as is, by AXFR.
    for entry in std::fs::read_dir(b.dir.path()).expect("dir").flatten() {
        if entry.path().extension().is_some_and(|e| e == "jnl") {
            std::fs::remove_file(entry.path()).expect("remove journal");
        }
    }
    std::fs::write(b.dir.path().join(format!("{zone}.zone")), small_zone(zone, 7, 3, timers)).expect("write");
    b.start_again().await;
    let z = d.wait_zone(zone, "recovery", |z| z.transfer.state == ZoneState::Ok).await;
    assert_eq!(z.transfer.serial, Some(7));
    assert_eq!(z.transfer.backoff, 0);
    assert_eq!(bind::canonical(zone, &d.export(zone).await), bind::canonical(zone, &b.dig_axfr(zone)));
}

#[tokio::test]
async fn a_restart_queries_nothing_that_is_not_due_and_refreshes_what_came_due() {
    let calm = "calm.test";
    let due = "due.test";
    let b = Bind::start(
        &[
            bind::Zone { name: calm, text: small_zone(calm, 1, 3, "3600 600 604800 60") },
            bind::Zone { name: due, text: small_zone(due, 1, 3, "3 1 604800 60") },
        ],
        Access::Open,
        None,
    )
    .await;
    let mut d = Daemon::start(FAST_TIMERS).await;
    d.add_linked("bind", addr(&b), None, calm).await;
    let r = d.call("POST", "/v2/1/secondary_dns/zones", Some(serde_json::json!({ "name": due }))).await;
    assert_eq!(r.status, 201);
    let r = d.call("PUT", "/v2/1/secondary_dns/primaries/bind/link", Some(serde_json::json!({ "zone": due }))).await;
    assert_eq!(r.status, 200);
    d.wait_serial(calm, 1).await;
    d.wait_serial(due, 1).await;

    d.stop();
    let calm_attempts = zone_attempts_offline(&d, calm);
    let due_attempts = zone_attempts_offline(&d, due);
    // Down long enough for due.test's 3 s refresh to come due.
    tokio::time::sleep(Duration::from_secs(4)).await;
    d.restart().await;
    d.wait_attempt(due, due_attempts).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let z = d.zone(calm).await;
    assert_eq!(z.transfer.attempts, calm_attempts, "the calm zone was not touched");
    assert_eq!(z.transfer.state, ZoneState::Ok);
}

/// Reads a zone's attempt counter straight from the stopped daemon's database.
fn zone_attempts_offline(d: &Daemon, zone: &str) -> u64 {
    let conn = rusqlite::Connection::open(d.dir.path().join("secondaryd.db")).expect("open db");
    conn.query_row("SELECT attempts FROM zones WHERE name = ?1", [zone], |r| r.get::<_, i64>(0)).expect("attempts")
        as u64
}

#[tokio::test]
async fn a_thousand_zones_on_one_bind_all_load_within_the_transfer_limit() {
    let names: Vec<String> = (0..1000).map(|i| format!("z{i}.many.test")).collect();
    let zones: Vec<bind::Zone> = names
        .iter()
        .map(|n| bind::Zone { name: n.as_str(), text: small_zone(n, 1, 3, "3600 600 604800 60") })
        .collect();
    let b = Bind::start(&zones, Access::Open, None).await;
    let d = Daemon::start("[transfer]\nconcurrency = 10\nper_primary = 4\n").await;
    let r = d
        .call(
            "POST",
            "/v2/1/secondary_dns/primaries",
            Some(serde_json::json!({ "name": "bind", "ip": "127.0.0.1", "port": b.port })),
        )
        .await;
    assert_eq!(r.status, 201);
    for n in &names {
        let r = d.call("POST", "/v2/1/secondary_dns/zones", Some(serde_json::json!({ "name": n }))).await;
        assert_eq!(r.status, 201);
        let r = d.call("PUT", "/v2/1/secondary_dns/primaries/bind/link", Some(serde_json::json!({ "zone": n }))).await;
        assert_eq!(r.status, 200);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let st = d.call("GET", "/v2/status", None).await;
        let data = &st.body["data"];
        assert!(data["events"]["peak_running"].as_u64() <= Some(10), "{data:#}");
        if data["zones"]["ok"] == 1000 {
            assert_eq!(data["zones"]["records"], 6000);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not all zones loaded: {data:#}\n{}", d.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_primary_serves_at_most_per_primary_transfers_at_once_and_all_of_them_are_used() {
    // Each transfer holds the stream 200 ms: 24 new zones overlap.
    let p = common::fake::CountingPrimary::start(Duration::from_millis(200)).await;
    let d = Daemon::start("[transfer]\nconcurrency = 50\nper_primary = 3\n").await;
    let names: Vec<String> = (0..24).map(|i| format!("c{i}.count.test")).collect();
    d.add_linked("counting", p.addr, None, &names[0]).await;
    for n in &names[1..] {
        let r = d
            .call(
                "POST",
                "/v2/1/secondary_dns/zones",
                Some(serde_json::json!({ "name": n, "primaries": ["counting"] })),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
    }
    for n in &names {
        d.wait_serial(n, 1).await;
    }
    let peak = p.peak.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(peak, 3, "transfers the primary served at once (transfer.per_primary = 3)\n{}", d.log());
}

#[tokio::test]
async fn a_dead_primary_costs_one_timeout_and_the_live_one_is_tried_first_next_time() {
    let zone = "failover.test";
    let b = Bind::start(
        &[bind::Zone { name: zone, text: small_zone(zone, 3, 5, "3600 600 604800 60") }],
        Access::Open,
        None,
    )
    .await;
    // A primary that accepts connections and datagrams and never answers.
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let dead = tcp.local_addr().expect("addr");
    let _udp = tokio::net::UdpSocket::bind(dead).await.expect("bind udp");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = tcp.accept().await {
            held.push(s);
        }
    });
    let d = Daemon::start(FAST_TIMERS).await;
    d.add_linked("dead", dead, None, zone).await;
    let r = d
        .call(
            "POST",
            "/v2/1/secondary_dns/primaries",
            Some(serde_json::json!({ "name": "live", "ip": "127.0.0.1", "port": b.port })),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = d.call("PUT", "/v2/1/secondary_dns/primaries/live/link", Some(serde_json::json!({ "zone": zone }))).await;
    assert_eq!(r.status, 200);
    let z = d.wait_serial(zone, 3).await;
    assert!(z.transfer.last_primary.as_deref().is_some_and(|p| p.starts_with("live")), "{:#?}", z.transfer);
    let live = z.primaries.iter().find(|p| p.name == "live");
    assert_eq!(live.map(|p| p.last_used), Some(true));

    // The next refresh starts with the primary that worked: no timeout at all.
    let attempts = z.transfer.attempts;
    let started = std::time::Instant::now();
    d.call("POST", &format!("/v2/1/zones/{zone}/refresh"), None).await;
    let z = d.wait_attempt(zone, attempts).await;
    assert!(started.elapsed() < Duration::from_millis(1500), "took {:?}", started.elapsed());
    assert_eq!(z.transfer.state, ZoneState::Ok);
}

#[tokio::test]
async fn zones_waiting_for_a_stalling_primary_do_not_hold_back_another_primarys_zone() {
    // A primary that accepts connections and never answers.
    let staller = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let stall_addr = staller.local_addr().expect("addr");
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((sock, _)) = staller.accept().await {
            open.push(sock);
        }
    });
    let healthy = common::fake::FakePrimary::start("healthy.example", 7, 3).await;
    let d = Daemon::start("[transfer]\nconcurrency = 2\nper_primary = 1\nidle_timeout = 30\n").await;
    // The stalling primary's zones first: one transfers (stalled), the
    // others wait for that primary's only slot.
    let mut first = true;
    for zone in ["s1.example", "s2.example", "s3.example"] {
        if first {
            d.add_linked("staller", stall_addr, None, zone).await;
            first = false;
        } else {
            let r = d.call("POST", "/v2/1/secondary_dns/zones", Some(serde_json::json!({ "name": zone }))).await;
            assert_eq!(r.status, 201, "{:?}", r.body);
            let r = d
                .call("PUT", "/v2/1/secondary_dns/primaries/staller/link", Some(serde_json::json!({ "zone": zone })))
                .await;
            assert_eq!(r.status, 200, "{:?}", r.body);
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t0 = std::time::Instant::now();
    d.add_linked("healthy", healthy.addr, None, "healthy.example").await;
    let z = d.wait_serial("healthy.example", 7).await;
    assert_eq!(z.transfer.serial, Some(7));
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "the healthy primary's zone waited {:?} behind the stalling primary's",
        t0.elapsed()
    );
    let st = d.call("GET", "/v2/status", None).await;
    assert!(st.body["data"]["events"]["peak_running"].as_u64() <= Some(2), "{:?}", st.body);
    held.abort();
}
