//! Day-two operations: reloading the config without a restart (SIGHUP,
//! `POST /v2/reload`, `secondaryctl reload`), against a real BIND primary;
//! log lines as the systemd journal reads them.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::bind::{self, Access, Bind, KEY_NAME, KEY_SECRET};
use common::query::{Question, Transport};
use common::{last_error, send_signal, small_zone, Daemon, Signal, FAST_TIMERS};
use secondaryd::model::Reloaded;

const TOKEN_A: &str = "token-before-the-reload-0123";
const TOKEN_B: &str = "token-after-the-reload-4567";
/// A valid key secret, but not the one BIND has.
const WRONG_SECRET: &str = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktMDA=";

fn settings(token: &str, secret: &str) -> String {
    format!(
        "{FAST_TIMERS}[[tsig_key]]\nname = \"{KEY_NAME}\"\nsecret = \"{secret}\"\n\
         [[token]]\naccount = 1\nsecret = \"{token}\"\n"
    )
}

/// Replaces `from` by `to` in the daemon's config file.
fn edit_config(d: &Daemon, from: &str, to: &str) {
    let text = std::fs::read_to_string(&d.config_path).expect("read the config");
    assert!(text.contains(from), "the config has no `{from}`:\n{text}");
    std::fs::write(&d.config_path, text.replacen(from, to, 1)).expect("write the config");
}

async fn tcp_status(d: &Daemon, token: &str) -> u16 {
    d.tcp_client(Some(token)).get("/v2/1/zones").await.expect("TCP API call").status
}

#[tokio::test]
async fn a_reload_puts_new_tokens_and_keys_in_force_keeps_the_zones_and_refuses_a_bad_file() {
    let zone = "reload.test";
    let b = Bind::start(
        &[bind::Zone { name: zone, text: small_zone(zone, 7, 20, "3600 600 604800 300") }],
        Access::Tsig,
        None,
    )
    .await;
    let d = Daemon::start_with_plain_tcp(&settings(TOKEN_A, WRONG_SECRET)).await;
    d.add_linked("bind", SocketAddr::from(([127, 0, 0, 1], b.port)), Some(KEY_NAME), zone).await;
    // The key's secret is not BIND's: the transfer fails, saying so.
    let z = d.wait_zone(zone, "a failed transfer", |z| last_error(z).is_some()).await;
    assert_eq!(z.transfer.serial, None);
    assert_eq!(tcp_status(&d, TOKEN_A).await, 200);
    assert_eq!(tcp_status(&d, TOKEN_B).await, 401);

    // The right secret and a new token, by `POST /v2/reload`.
    edit_config(&d, WRONG_SECRET, KEY_SECRET);
    edit_config(&d, TOKEN_A, TOKEN_B);
    let r = d.call("POST", "/v2/reload", None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let report: Reloaded = serde_json::from_value(r.body["data"].clone()).expect("a reload report");
    assert_eq!(report.applied, ["tsig_key", "token"], "{report:?}");
    assert!(report.restart_needed.is_empty(), "{report:?}");
    assert_eq!(tcp_status(&d, TOKEN_B).await, 200, "the new token is in force");
    assert_eq!(tcp_status(&d, TOKEN_A).await, 401, "the old token is refused");
    // The new secret signs the next transfer.
    assert_eq!(d.call("POST", &format!("/v2/1/zones/{zone}/refresh"), None).await.status, 202);
    let z = d.wait_serial(zone, 7).await;
    assert_eq!(z.transfer.records, 23);
    assert!(d.log().contains("config reloaded"), "{}", d.log());

    // Only the Unix socket may reload.
    let r = d.tcp_client(Some(TOKEN_B)).request("POST", "/v2/reload", None).await.expect("TCP API call");
    assert_eq!(r.status, 403, "{:?}", r.body);

    // A file that does not validate is refused with the key at fault, and
    // the settings in force stay.
    edit_config(&d, "[transfer]\n", "[transfer]\nconcurrency = 0\n");
    let r = d.call("POST", "/v2/reload", None).await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    let message = r.body["message"].as_str().unwrap_or_default();
    assert!(message.contains("transfer.concurrency"), "{message}");
    assert!(r.body["errors"]["config"][0].as_str().is_some_and(|e| e.contains("transfer.concurrency")), "{:?}", r.body);
    assert_eq!(tcp_status(&d, TOKEN_B).await, 200);
    assert!(d.log().contains("config reload refused"), "{}", d.log());
    edit_config(&d, "[transfer]\nconcurrency = 0\n", "[transfer]\n");

    // A key that a stored primary uses cannot go.
    let text = std::fs::read_to_string(&d.config_path).expect("read the config");
    let without_key = text.replace(&format!("[[tsig_key]]\nname = \"{KEY_NAME}\"\nsecret = \"{KEY_SECRET}\"\n"), "");
    assert_ne!(without_key, text);
    std::fs::write(&d.config_path, &without_key).expect("write the config");
    let r = d.call("POST", "/v2/reload", None).await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    let message = r.body["message"].as_str().unwrap_or_default();
    assert!(message.contains(&format!("`{KEY_NAME}` (used by primary `bind`)")), "{message}");
    std::fs::write(&d.config_path, &text).expect("write the config");

    // What only a restart changes is said, and left as it runs.
    let port = d.dns_port;
    edit_config(&d, &format!("listen = [\"127.0.0.1:{port}\"]"), &format!("listen = [\"127.0.0.1:{}\"]", port + 1));
    let r = d.call("POST", "/v2/reload", None).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["data"]["restart_needed"], serde_json::json!(["dns.listen"]), "{:?}", r.body);
    let q = Question { qname: zone.into(), qtype: 6, rd: false, edns: None, transport: Transport::Udp };
    let soa = common::query::ask(SocketAddr::from(([127, 0, 0, 1], port)), &q).expect("an answer on the old address");
    assert!(soa.answer.first().is_some_and(|a| a.contains(" 7 3600 600 ")), "{soa:?}");

    // SIGHUP reloads too (what `systemctl reload` sends).
    edit_config(&d, TOKEN_B, TOKEN_A);
    send_signal(d.pid().expect("running"), Signal::SIGHUP);
    let deadline = Instant::now() + Duration::from_secs(10);
    while tcp_status(&d, TOKEN_A).await != 200 {
        assert!(Instant::now() < deadline, "SIGHUP did not reload; log:\n{}", d.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(tcp_status(&d, TOKEN_B).await, 401);
    // The zone went through every reload untouched: same serial, one transfer.
    let z = d.zone(zone).await;
    assert_eq!(z.transfer.serial, Some(7));
    assert_eq!(d.log().matches("transfer finished zone=reload.test").count(), 1, "{}", d.log());
}

#[tokio::test]
async fn secondaryctl_reload_prints_what_changed_and_fails_with_the_reason() {
    let d = Daemon::start("[log]\nlevel = \"info\"\n").await;
    let ctl = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_secondaryctl"))
            .arg("--socket")
            .arg(&d.socket)
            .args(args)
            .output()
            .expect("run secondaryctl")
    };
    edit_config(&d, "level = \"info\"", "level = \"debug\"");
    let out = ctl(&["reload"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("applied: log.level"), "{stdout}");
    // The test daemon's RUST_LOG chooses its filter: the reload says so.
    assert!(stdout.contains("note: log.level not applied: RUST_LOG chooses the log filter"), "{stdout}");

    edit_config(&d, "level = \"debug\"", "level = \"secondaryd=loud\"");
    let out = ctl(&["reload"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("log.level"), "{stderr}");
}

/// The remaining expire time `port` gives for `zone` (RFC 7314), asked as
/// secondaryd asks its primaries.
async fn edns_expire(port: u16, zone: &str) -> Option<u32> {
    let name = secondaryd::wire::Name::from_ascii(zone).expect("zone name");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let soa =
        secondaryd::xfr::client::query_soa(addr, &name, None, Duration::from_secs(2)).await.expect("a SOA answer");
    soa.edns_expire
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

#[tokio::test]
async fn a_copy_of_a_copy_expires_when_the_original_does_by_edns_expire() {
    let zone = "expire.test";
    let expire = 604_800;
    // BIND primary → BIND secondary → secondaryd → whoever asks us.
    let mut p = Bind::start(
        &[bind::Zone { name: zone, text: small_zone(zone, 3, 10, &format!("3600 600 {expire} 300")) }],
        Access::Open,
        None,
    )
    .await;
    assert_eq!(edns_expire(p.port, zone).await, Some(expire), "a primary gives its SOA EXPIRE");
    let mut s = bind::BindSecondary::start(&[zone], p.port, false);
    s.wait_serial(zone, 3, Duration::from_secs(20)).await;
    // The primary goes away: the secondary's copy counts down.
    p.stop();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let given = edns_expire(s.port, zone).await.expect("BIND's secondary gives its remaining expire");
    let asked_at = unix_now();
    assert!(given <= expire - 2, "BIND's copy has been counting down: {given}");

    let d = Daemon::start("[[downstream]]\naddress = \"127.0.0.1\"\nnotify = \"127.0.0.1:9\"\n").await;
    d.add_linked("bind-secondary", SocketAddr::from(([127, 0, 0, 1], s.port)), None, zone).await;
    let z = d.wait_serial(zone, 3).await;
    let expires_at = z.transfer.expires_at.as_deref().expect("an expiry");
    let expires_at = humantime::parse_rfc3339(expires_at).expect("an RFC 3339 time");
    let expires_at = expires_at.duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs() as i64;
    let expected = asked_at + i64::from(given);
    assert!(
        (expected - 2..=expected + 2).contains(&expires_at),
        "our copy expires when BIND's does ({expected}), not a SOA EXPIRE later: {expires_at}"
    );

    // We give what is left of it to those who ask, by SOA query and in transfers.
    let ours = edns_expire(d.dns_port, zone).await.expect("secondaryd gives its remaining expire");
    let left = expires_at - unix_now();
    assert!((left - 2..=left + 1).contains(&i64::from(ours)), "{ours} vs {left} left");
    // An AXFR from us carries it too.
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let name = secondaryd::wire::Name::from_ascii(zone).expect("zone name");
    let summary = secondaryd::xfr::client::transfer(
        SocketAddr::from(([127, 0, 0, 1], d.dns_port)),
        &name,
        secondaryd::xfr::interpret::Request::Axfr,
        None,
        &Default::default(),
        tx,
    )
    .await
    .expect("an AXFR from secondaryd");
    let in_axfr = summary.edns_expire.expect("EDNS EXPIRE in our AXFR");
    assert!(in_axfr <= ours && in_axfr + 2 >= ours, "{in_axfr} vs {ours}");
}

/// Under systemd, stderr is the journal's stream (`JOURNAL_STREAM` names its
/// device and inode): each line then starts with its syslog priority, which
/// `journalctl -p` filters on, and has no time stamp of its own. Anywhere
/// else (the variable absent, or naming another file, as a child whose
/// stderr was redirected inherits it) a line starts with its time.
#[test]
fn log_lines_carry_their_syslog_priority_only_when_stderr_is_the_journal() {
    use std::os::unix::fs::MetadataExt;
    for journal in [true, false] {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("stderr.log");
        let file = std::fs::File::create(&log).expect("create the log");
        let meta = file.metadata().expect("stat the log");
        let stream = format!("{}:{}", meta.dev(), if journal { meta.ino() } else { meta.ino() + 1 });
        // A store under a plain file cannot open: the daemon logs that it
        // starts (info), then why it failed (error), and exits.
        let config = dir.path().join("secondaryd.toml");
        let port = common::free_port();
        std::fs::write(
            &config,
            format!(
                "[store]\npath = \"stderr.log/secondaryd.db\"\n[control]\nsocket = \"control.sock\"\n\
                 [dns]\nlisten = [\"127.0.0.1:{port}\"]\n"
            ),
        )
        .expect("write the config");
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_secondaryd"))
            .arg("--config")
            .arg(&config)
            .env("JOURNAL_STREAM", &stream)
            .env("RUST_LOG", "info")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(file)
            .status()
            .expect("run secondaryd");
        assert_eq!(status.code(), Some(1), "the store cannot open");
        let text = std::fs::read_to_string(&log).expect("read the log");
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with("secondaryd: ")).collect();
        let starting = lines.iter().find(|l| l.contains("secondaryd starting")).expect("the start line");
        let failed = lines.iter().find(|l| l.contains("secondaryd failed")).expect("the failure line");
        assert!(failed.contains("stderr.log is not a directory"), "the reason: {text}");
        if journal {
            assert!(starting.starts_with("<6> INFO "), "{text}");
            assert!(failed.starts_with("<3>ERROR "), "{text}");
        } else {
            for line in [starting, failed] {
                assert!(line.starts_with(char::is_numeric) && line[..20].contains('T'), "a time first: {text}");
                assert!(!line.starts_with('<'), "{text}");
            }
        }
    }
}
