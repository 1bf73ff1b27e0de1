//! The Prometheus endpoint (`[metrics] listen`): scraped before and after real
//! transfers from a BIND primary, its figures move with them, and
//! `promtool check metrics` accepts what it serves.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::bind::{self, Access, Bind};
use common::fake::{FakePrimary, Fault};
use common::query::{self, Question, Transport};
use common::{free_port, small_zone, Daemon};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

const TIMERS: &str = "3600 600 604800 300";

/// One scrape: the status line's code, the content type, and the body.
struct Scrape {
    status: u16,
    content_type: String,
    body: String,
}

impl Scrape {
    /// Every sample, by its series (`name{labels}` exactly as written).
    fn samples(&self) -> HashMap<String, f64> {
        self.body
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|l| {
                let (series, value) = l.rsplit_once(' ')?;
                Some((series.to_string(), value.parse().ok()?))
            })
            .collect()
    }

    /// The value of one series; 0 when absent (a counter not yet created).
    fn get(&self, series: &str) -> f64 {
        self.samples().get(series).copied().unwrap_or(0.0)
    }

    fn has(&self, series: &str) -> bool {
        self.samples().contains_key(series)
    }

    /// How many series start with `prefix` (a name and the first labels).
    fn count(&self, prefix: &str) -> usize {
        self.samples().keys().filter(|k| k.starts_with(prefix)).count()
    }
}

/// `GET /metrics` over a plain TCP connection, optionally asking for OpenMetrics.
async fn scrape_with(addr: SocketAddr, accept: Option<&str>) -> Scrape {
    let mut s = TcpStream::connect(addr).await.expect("connect to the metrics endpoint");
    let accept = accept.map(|a| format!("Accept: {a}\r\n")).unwrap_or_default();
    let req = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\n{accept}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("send the request");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut raw))
        .await
        .expect("the scrape answers within 10 s")
        .expect("read the answer");
    let text = String::from_utf8(raw).expect("the answer is UTF-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("headers and body");
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).expect("a status code");
    let content_type = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-type:").map(|v| v.trim().to_string()))
        .unwrap_or_default();
    Scrape { status, content_type, body: body.to_string() }
}

async fn scrape(addr: SocketAddr) -> Scrape {
    let s = scrape_with(addr, None).await;
    assert_eq!(s.status, 200, "{}", s.body);
    s
}

/// Scrapes until `done` holds (10 s at most).
async fn scrape_until(addr: SocketAddr, what: &str, done: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = scrape(addr).await;
        if done(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}; last scrape:\n{}", s.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `promtool check metrics` on the text: it must exit 0. A missing promtool
/// fails the test with the install command; it never passes silently.
fn promtool_check(text: &str) {
    use std::io::Write;
    let promtool = ["/usr/bin/promtool", "/usr/local/bin/promtool"]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.is_file())
        .or_else(|| {
            std::env::var_os("PATH")
                .and_then(|p| std::env::split_paths(&p).map(|d| d.join("promtool")).find(|p| p.is_file()))
        })
        .unwrap_or_else(|| {
            panic!("`promtool` is not installed: the metrics test needs it. Install it with: apt-get install -y prometheus")
        });
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start promtool");
    child.stdin.take().expect("promtool's stdin").write_all(text.as_bytes()).expect("feed promtool");
    let out = child.wait_with_output().expect("promtool ran");
    assert!(
        out.status.success(),
        "promtool check metrics failed ({}):\n{}{}\non:\n{text}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A downstream that acknowledges every NOTIFY (the request echoed with QR
/// set and NOERROR); returns its address.
async fn acknowledging_downstream() -> SocketAddr {
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind the downstream");
    let addr = sock.local_addr().expect("its address");
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            if n < 12 {
                continue;
            }
            let mut reply = buf[..n].to_vec();
            reply[2] |= 0x80;
            reply[3] &= 0xf0;
            let _ = sock.send_to(&reply, from).await;
        }
    });
    addr
}

fn ask_udp(port: u16, qname: &str, qtype: u16) -> String {
    let q = Question { qname: qname.to_string(), qtype, rd: false, edns: None, transport: Transport::Udp };
    let a = query::ask(SocketAddr::from(([127, 0, 0, 1], port)), &q).unwrap_or_else(|e| panic!("{qname}: {e}"));
    a.rcode_name()
}

#[tokio::test]
async fn the_metrics_endpoint_moves_with_real_transfers_notifies_and_queries_and_passes_promtool() {
    let zone = "metrics.test";
    let dead = "unreachable.test";
    let metrics = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let downstream = acknowledging_downstream().await;
    let d = Daemon::start(&format!(
        "[metrics]\nlisten = \"{metrics}\"\n[[downstream]]\naddress = \"127.0.0.1\"\nnotify = \"{downstream}\"\nzones = [\"{zone}\"]\n"
    ))
    .await;
    assert!(d.log().contains("metrics listening"), "one log line says where: {}", d.log());
    let b = Bind::start(
        &[bind::Zone { name: zone, text: small_zone(zone, 1, 50, TIMERS) }],
        Access::Open,
        Some(d.dns_port),
    )
    .await;

    // Before any zone: the families are there, no zone series yet.
    let before = scrape(metrics).await;
    assert_eq!(before.content_type, "text/plain; version=0.0.4; charset=utf-8");
    promtool_check(&before.body);
    let axfr_ok = "secondaryd_transfers_total{type=\"AXFR\",outcome=\"ok\"}";
    let ixfr_ok = "secondaryd_transfers_total{type=\"IXFR\",outcome=\"ok\"}";
    let axfr_failed = "secondaryd_transfers_total{type=\"AXFR\",outcome=\"failed\"}";
    let serial = format!("secondaryd_zone_serial{{zone=\"{zone}\"}}");
    assert!(before.has(axfr_ok), "every transfer series exists from the start:\n{}", before.body);
    assert!(!before.has(&serial));
    assert_eq!(before.get("secondaryd_scheduler_concurrency"), 50.0);

    // The first copy: one AXFR.
    d.add_linked("bind", SocketAddr::from(([127, 0, 0, 1], b.port)), None, zone).await;
    d.wait_serial(zone, 1).await;
    let first = scrape_until(metrics, "the first NOTIFY to be acknowledged", |s| {
        s.get("secondaryd_notify_sent_total{outcome=\"acknowledged\"}") >= 1.0
    })
    .await;
    promtool_check(&first.body);
    assert_eq!(first.get(&serial), 1.0, "{}", first.body);
    assert_eq!(first.get(axfr_ok) - before.get(axfr_ok), 1.0, "exactly one AXFR:\n{}", first.body);
    assert_eq!(first.get(ixfr_ok), before.get(ixfr_ok));
    let axfr_count = "secondaryd_transfer_duration_seconds_count{type=\"AXFR\"}";
    assert_eq!(first.get(axfr_count) - before.get(axfr_count), 1.0);
    assert_eq!(first.get("secondaryd_transfer_size_bytes_count{type=\"AXFR\"}"), 1.0);
    // SOA, NS, ns1 and 50 hosts, with the closing SOA: 54 records in one message or a few.
    let records = first.get("secondaryd_transfer_records_sum{type=\"AXFR\"}");
    assert!((53.0..=54.0).contains(&records), "records of the AXFR: {records}");
    let bytes = first.get("secondaryd_transfer_size_bytes_sum{type=\"AXFR\"}");
    assert!(bytes > 500.0 && bytes < 10_000.0, "bytes of the AXFR: {bytes}");
    assert_eq!(first.get(&format!("secondaryd_zone_state{{zone=\"{zone}\",state=\"ok\"}}")), 1.0, "{}", first.body);
    assert_eq!(first.count(&format!("secondaryd_zone_state{{zone=\"{zone}\"")), 1, "one state series per zone");
    let expires = first.get(&format!("secondaryd_zone_expires_in_seconds{{zone=\"{zone}\"}}"));
    assert!(expires > 600_000.0 && expires <= 604_800.0, "SOA EXPIRE is a week: {expires}");
    let age = first.get(&format!("secondaryd_zone_last_refresh_age_seconds{{zone=\"{zone}\"}}"));
    assert!((0.0..60.0).contains(&age), "refreshed just now: {age}");

    // Queries, counted by RCODE: one answered from the zone, one for a name we have no zone for.
    let noerror = "secondaryd_dns_queries_total{rcode=\"NOERROR\"}";
    let refused = "secondaryd_dns_queries_total{rcode=\"REFUSED\"}";
    let q0 = scrape(metrics).await;
    assert_eq!(ask_udp(d.dns_port, zone, 6), "NOERROR");
    assert_eq!(ask_udp(d.dns_port, "elsewhere.example", 1), "REFUSED");
    let q1 = scrape(metrics).await;
    assert_eq!(q1.get(noerror) - q0.get(noerror), 1.0, "{}", q1.body);
    assert_eq!(q1.get(refused) - q0.get(refused), 1.0, "{}", q1.body);

    // A new serial at BIND: its NOTIFY is accepted and brings one IXFR.
    let accepted = "secondaryd_notify_received_total{outcome=\"accepted\"}";
    let text = small_zone(zone, 2, 50, TIMERS).replace("h3 IN A 10.0.0.4", "h3 IN A 10.9.9.9");
    b.update_zone(zone, &text, 2).await;
    d.wait_serial(zone, 2).await;
    let second = scrape_until(metrics, "the second NOTIFY to be acknowledged", |s| {
        s.get("secondaryd_notify_sent_total{outcome=\"acknowledged\"}")
            > first.get("secondaryd_notify_sent_total{outcome=\"acknowledged\"}")
    })
    .await;
    promtool_check(&second.body);
    assert_eq!(second.get(&serial), 2.0, "{}", second.body);
    assert_eq!(second.get(ixfr_ok) - first.get(ixfr_ok), 1.0, "exactly one IXFR:\n{}", second.body);
    assert_eq!(second.get(axfr_ok), first.get(axfr_ok), "no second AXFR");
    assert_eq!(second.get("secondaryd_transfer_duration_seconds_count{type=\"IXFR\"}"), 1.0);
    // One record changed: the old h3 deleted, the new one added (the SOAs frame the diff).
    assert_eq!(second.get("secondaryd_transfer_records_sum{type=\"IXFR\"}"), 2.0, "{}", second.body);
    assert!(second.get(accepted) > first.get(accepted), "the NOTIFY from BIND is counted:\n{}", second.body);

    // NOTIFYs refused, by reason: from a stranger's address, and for a zone we do not hold.
    let notify = |name: &str| {
        let mut m = secondaryd::wire::build_query(
            7,
            &secondaryd::wire::Name::from_ascii(name).expect("name"),
            secondaryd::wire::rtype::SOA,
            None,
        );
        m[2] = (secondaryd::wire::opcode::NOTIFY << 3) | 0x04;
        m
    };
    for (from, name) in [("127.0.0.2", zone), ("127.0.0.1", "unknown.test")] {
        let sock = UdpSocket::bind((from, 0)).await.expect("bind a NOTIFY sender");
        sock.send_to(&notify(name), ("127.0.0.1", d.dns_port)).await.expect("send the NOTIFY");
        let mut buf = [0u8; 512];
        tokio::time::timeout(Duration::from_secs(2), sock.recv(&mut buf)).await.expect("an answer").expect("recv");
    }
    let not_primary = "secondaryd_notify_received_total{outcome=\"refused\",reason=\"not_a_primary\"}";
    let unknown = "secondaryd_notify_received_total{outcome=\"refused\",reason=\"unknown_zone\"}";
    let third = scrape(metrics).await;
    assert_eq!(third.get(not_primary) - second.get(not_primary), 1.0, "{}", third.body);
    assert_eq!(third.get(unknown) - second.get(unknown), 1.0, "{}", third.body);

    // A zone whose primary is not there: its AXFR fails; no copy, so no serial.
    d.add_linked("nobody", SocketAddr::from(([127, 0, 0, 1], 9)), None, dead).await;
    d.wait_attempt(dead, 0).await;
    let fourth = scrape(metrics).await;
    promtool_check(&fourth.body);
    assert!(fourth.get(axfr_failed) > third.get(axfr_failed), "{}", fourth.body);
    assert!(!fourth.has(&format!("secondaryd_zone_serial{{zone=\"{dead}\"}}")));
    assert_eq!(fourth.count(&format!("secondaryd_zone_state{{zone=\"{dead}\"")), 1, "{}", fourth.body);
    assert_eq!(fourth.get(&format!("secondaryd_zone_state{{zone=\"{dead}\",state=\"bootstrapping\"}}")), 1.0);
    assert!(fourth.get("secondaryd_scheduler_peak_running") >= 1.0);

    // OpenMetrics for scrapers that ask (Prometheus does): the same figures, with `# EOF`.
    let om = scrape_with(metrics, Some("application/openmetrics-text;version=1.0.0,text/plain;q=0.5")).await;
    assert_eq!(om.status, 200);
    assert_eq!(om.content_type, "application/openmetrics-text; version=1.0.0; charset=utf-8");
    assert!(om.body.ends_with("# EOF\n"), "{}", om.body);
    assert!(om.body.contains("# TYPE secondaryd_transfers counter\n"));
    assert_eq!(om.get(&serial), 2.0);

    // A deleted zone's series are gone at the next scrape.
    let r = d.call("DELETE", &format!("/v2/1/domains/{dead}"), None).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let fifth = scrape(metrics).await;
    assert_eq!(fifth.count(&format!("secondaryd_zone_state{{zone=\"{dead}\"")), 0, "{}", fifth.body);
    assert_eq!(fifth.get(&serial), 2.0);
}

#[tokio::test]
async fn transfers_are_counted_by_outcome_and_an_ixfr_answered_whole_as_ixfr_to_axfr() {
    let zone = "outcomes.test";
    let fake = FakePrimary::start(zone, 1, 20).await;
    fake.set(1, Fault::UnsignedRefused);
    let metrics = SocketAddr::from(([127, 0, 0, 1], free_port()));
    // Default retry timers (500 s and up): every attempt below is one the test asks for.
    let d = Daemon::start(&format!("[metrics]\nlisten = \"{metrics}\"\n")).await;
    let series = |t: &str, o: &str| format!("secondaryd_transfers_total{{type=\"{t}\",outcome=\"{o}\"}}");
    let state = |s: &str| format!("secondaryd_zone_state{{zone=\"{zone}\",state=\"{s}\"}}");
    let refresh = || async {
        let r = d.call("POST", &format!("/v2/1/zones/{zone}/refresh"), None).await;
        assert_eq!(r.status, 202, "{:?}", r.body);
    };

    // The primary answers REFUSED: one AXFR refused, and no copy.
    d.add_linked("fake", fake.addr, None, zone).await;
    d.wait_attempt(zone, 0).await;
    let s1 = scrape(metrics).await;
    assert_eq!(s1.get(&series("AXFR", "refused")), 1.0, "{}", s1.body);
    assert_eq!(s1.get(&series("AXFR", "failed")), 0.0, "{}", s1.body);
    assert_eq!(s1.get(&state("bootstrapping")), 1.0, "{}", s1.body);
    assert_eq!(s1.get("secondaryd_transfer_duration_seconds_count{type=\"AXFR\"}"), 0.0, "only committed ones");

    // A closing SOA that does not match the opening one: one AXFR failed.
    fake.set(1, Fault::WrongFinalSoa);
    refresh().await;
    d.wait_attempt(zone, 1).await;
    let s2 = scrape(metrics).await;
    assert_eq!(s2.get(&series("AXFR", "failed")), 1.0, "{}", s2.body);
    assert_eq!(s2.get(&series("AXFR", "refused")), 1.0, "{}", s2.body);

    // A good one: the first copy.
    fake.set(1, Fault::None);
    refresh().await;
    d.wait_serial(zone, 1).await;
    let s3 = scrape(metrics).await;
    assert_eq!(s3.get(&series("AXFR", "ok")), 1.0, "{}", s3.body);
    assert_eq!(s3.get("secondaryd_transfer_records_count{type=\"AXFR\"}"), 1.0);
    assert_eq!(s3.get(&state("ok")), 1.0, "{}", s3.body);
    assert_eq!(s3.count(&format!("secondaryd_zone_state{{zone=\"{zone}\"")), 1, "{}", s3.body);

    // A new serial: we ask for an IXFR, this primary sends the whole zone.
    fake.set(2, Fault::None);
    refresh().await;
    d.wait_serial(zone, 2).await;
    let s4 = scrape(metrics).await;
    promtool_check(&s4.body);
    assert_eq!(s4.get(&series("IXFR_to_AXFR", "ok")), 1.0, "{}", s4.body);
    assert_eq!(s4.get(&series("IXFR", "ok")), 0.0, "{}", s4.body);
    assert_eq!(s4.get(&series("AXFR", "ok")), 1.0, "{}", s4.body);
    assert_eq!(s4.get("secondaryd_transfer_duration_seconds_count{type=\"IXFR_to_AXFR\"}"), 1.0);
    assert_eq!(s4.get(&format!("secondaryd_zone_serial{{zone=\"{zone}\"}}")), 2.0);
}

#[tokio::test]
async fn a_bad_metrics_address_stops_the_start_with_an_error_naming_the_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("secondaryd.toml");
    std::fs::write(&config, "[metrics]\nlisten = \"localhost:9153\"\n").expect("write config");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_secondaryd"))
        .arg("--check-config")
        .arg("--config")
        .arg(&config)
        .output()
        .expect("run secondaryd --check-config");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("metrics.listen") && stderr.contains("localhost:9153"), "{stderr}");
}
