//! Test harness: start the real `secondaryd` binary with its own config in a
//! temp dir, wait until its control socket answers, stop it with SIGTERM.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub use nix::sys::signal::Signal;
use std::time::{Duration, Instant};

use secondaryd::client::{Client, Endpoint, Response};
use secondaryd::model::{NewPrimaryServer, NewZone, PrimaryServer, Zone, ZoneFile, ZoneLink};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// A port free for both UDP and TCP on 127.0.0.1.
pub fn free_port() -> u16 {
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind a free TCP port");
        let port = tcp.local_addr().expect("local addr").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub socket: PathBuf,
    pub tcp: Option<SocketAddr>,
    /// The TCP API speaks HTTPS with the certificate of [`TEST_CERT`].
    pub tls: bool,
    pub dns_port: u16,
    child: Option<Child>,
}

/// The test certificates (`tests/tls/README.md`): the server's certificate
/// (for 127.0.0.1, ::1 and localhost), its key, and the CA that signed it.
pub fn test_tls_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls").join(name)
}
pub const TEST_CERT: &str = "cert.pem";
pub const TEST_KEY: &str = "test-only-key.pem";
pub const TEST_CA: &str = "ca.pem";

/// Which control APIs a test daemon has besides its Unix socket.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TcpApi {
    None,
    Plain,
    Https,
}

impl Daemon {
    /// Starts a daemon whose config is the default test config plus `extra`
    /// (more TOML sections, e.g. `[[token]]`).
    pub async fn start(extra: &str) -> Daemon {
        Self::start_with(extra, TcpApi::None).await
    }

    /// Like [`Daemon::start`], with the TCP API on a free port, HTTPS with the
    /// test certificate (as in production).
    pub async fn start_with_tcp(extra: &str) -> Daemon {
        Self::start_with(extra, TcpApi::Https).await
    }

    /// Like [`Daemon::start_with_tcp`], the TCP API in plain HTTP (no `tls_cert`).
    pub async fn start_with_plain_tcp(extra: &str) -> Daemon {
        Self::start_with(extra, TcpApi::Plain).await
    }

    async fn start_with(extra: &str, api: TcpApi) -> Daemon {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("control.sock");
        let dns_port = free_port();
        let tcp = (api != TcpApi::None).then(|| SocketAddr::from(([127, 0, 0, 1], free_port())));
        let mut listen = tcp.map(|a| format!("listen = \"{a}\"\n")).unwrap_or_default();
        let tls = api == TcpApi::Https;
        if tls {
            for (key, file) in [("tls_cert", TEST_CERT), ("tls_key", TEST_KEY)] {
                listen.push_str(&format!("{key} = {:?}\n", test_tls_file(file).display().to_string()));
            }
        }
        // `extra` may bring its own [dns] section (with {dns_port} for our port).
        let extra = extra.replace("{dns_port}", &dns_port.to_string());
        let dns = if extra.contains("[dns]") {
            String::new()
        } else {
            format!("[dns]\nlisten = [\"127.0.0.1:{dns_port}\"]\n")
        };
        let extra = with_loopback_policy(&extra);
        // `store.*` keys in `extra` (`max_size_mib = N`) go into our [store] section.
        let (store_keys, extra): (Vec<&str>, Vec<&str>) = extra.lines().partition(|l| l.starts_with("max_size_mib"));
        let (store_keys, extra) = (store_keys.join("\n"), extra.join("\n"));
        let config = format!(
            "[store]\npath = \"secondaryd.db\"\n{store_keys}\n[control]\nsocket = \"control.sock\"\n{listen}{dns}{extra}\n"
        );
        let config_path = dir.path().join("secondaryd.toml");
        std::fs::write(&config_path, config).expect("write config");
        let mut d = Daemon { dir, config_path, socket, tcp, tls, dns_port, child: None };
        d.spawn().await;
        d
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("secondaryd.log")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    async fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path()).expect("open daemon log");
        let child = Command::new(env!("CARGO_BIN_EXE_secondaryd"))
            .arg("--config")
            .arg(&self.config_path)
            .env("RUST_LOG", "secondaryd=debug,info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn secondaryd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("secondaryd exited during start-up with {status}; log:\n{}", self.log());
                }
            }
            if let Ok(r) = self.client().get("/v2/whoami").await {
                if r.status == 200 {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "secondaryd did not answer on its socket in 20 s; log:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The daemon's process id (while it runs).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stops the daemon with SIGTERM and waits for it to exit cleanly.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            send_signal(child.id(), Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                match child.try_wait() {
                    Ok(Some(status)) => {
                        assert!(status.success(), "secondaryd exited with {status}; log:\n{}", self.log());
                        return;
                    }
                    Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                    _ => {
                        let _ = child.kill();
                        panic!("secondaryd did not stop within 20 s of SIGTERM; log:\n{}", self.log());
                    }
                }
            }
        }
    }

    pub async fn restart(&mut self) {
        self.stop();
        self.spawn().await;
    }

    /// Kills the daemon with SIGKILL (no clean stop: a crash or a power cut)
    /// and starts it again on the same state.
    pub async fn crash_and_restart(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.spawn().await;
    }

    /// The store's file (for checks that read it directly).
    pub fn store_path(&self) -> PathBuf {
        self.dir.path().join("secondaryd.db")
    }

    pub fn client(&self) -> Client {
        Client::new(Endpoint::Unix(self.socket.clone()))
    }

    /// A client of the TCP API (HTTPS trusting the test CA when the daemon has TLS).
    pub fn tcp_client(&self, token: Option<&str>) -> Client {
        let addr = self.tcp.expect("daemon started with a TCP API");
        let token = token.map(str::to_string);
        if self.tls {
            let tls = secondaryd::tls::client_config(&test_tls_file(TEST_CA)).expect("the test CA");
            Client::new(Endpoint::Https { addr, token, tls })
        } else {
            Client::new(Endpoint::Tcp { addr, token })
        }
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Response {
        self.client().request(method, path, body.as_ref()).await.expect("API call")
    }

    /// Sends a request body of the API's shapes.
    pub async fn send<B: Serialize>(&self, method: &str, path: &str, body: &B) -> Response {
        self.client().send(method, path, Some(body)).await.expect("API call")
    }

    /// `GET /v2/1/zones/{zone}`'s data.
    pub async fn zone(&self, zone: &str) -> Zone {
        let r = self.call("GET", &format!("/v2/1/zones/{zone}"), None).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        data(&r)
    }

    /// Polls the zone until `done` holds (20 s at most) and returns it.
    pub async fn wait_zone(&self, zone: &str, what: &str, done: impl Fn(&Zone) -> bool) -> Zone {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let z = self.zone(zone).await;
            if done(&z) {
                return z;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; zone: {}
log:
{}",
                pretty(&z),
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the zone serves `serial` and the event that brought it has
    /// finished (the serial shows at commit; the serving view, the timers and
    /// the summary follow within the same event).
    pub async fn wait_serial(&self, zone: &str, serial: u32) -> Zone {
        self.wait_zone(zone, &format!("serial {serial}"), |z| {
            z.transfer.serial == Some(serial) && !z.transfer.refreshing
        })
        .await
    }

    /// Waits until a refresh attempt after `attempts` has finished.
    pub async fn wait_attempt(&self, zone: &str, attempts: u64) -> Zone {
        self.wait_zone(zone, "a refresh attempt to finish", |z| {
            z.transfer.attempts > attempts && !z.transfer.refreshing && !z.transfer.queued
        })
        .await
    }

    /// Creates a primary (with an optional TSIG key name) and a zone, and links them.
    pub async fn add_linked(&self, primary: &str, addr: SocketAddr, key: Option<&str>, zone: &str) {
        let body = NewPrimaryServer {
            name: primary.to_string(),
            ip: addr.ip().to_string(),
            port: Some(addr.port()),
            tsig_key: key.map(str::to_string),
            notify_requires_tsig: None,
        };
        let r = self.send("POST", "/v2/1/secondary_dns/primaries", &body).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let r = self
            .send(
                "POST",
                "/v2/1/secondary_dns/zones",
                &NewZone { name: zone.to_string(), catalog: None, primaries: Vec::new() },
            )
            .await;
        assert!(r.status == 201 || r.status == 400, "{:?}", r.body);
        let p: PrimaryServer = data(&self.call("GET", &format!("/v2/1/secondary_dns/primaries/{primary}"), None).await);
        let path = format!("/v2/1/secondary_dns/primaries/{}/link", p.id);
        let r = self.send("PUT", &path, &ZoneLink { zone: zone.to_string() }).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }

    /// The zone file export.
    pub async fn export(&self, zone: &str) -> String {
        let r = self.call("GET", &format!("/v2/1/zones/{zone}/file"), None).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        data::<ZoneFile>(&r).zone
    }

    /// Runs `secondaryctl --socket <ours> ARGS…` and returns (exit code, stdout, stderr).
    pub fn ctl(&self, args: &[&str]) -> (i32, String, String) {
        ctl_with(&self.socket, args)
    }
}

/// What `{"data": …}` of an answer holds, read as the API's shape `T`.
pub fn data<T: DeserializeOwned>(r: &Response) -> T {
    r.data().unwrap_or_else(|e| panic!("{e}: {:#}", r.body))
}

/// A page of a list answer.
pub fn page<T: DeserializeOwned>(r: &Response) -> secondaryd::model::List<T> {
    r.page().unwrap_or_else(|e| panic!("{e}: {:#}", r.body))
}

/// The error body of a failed call.
pub fn error(r: &Response) -> secondaryd::model::ErrorBody {
    r.error().unwrap_or_else(|| panic!("not an error body: {:#}", r.body))
}

/// The type of the zone's last transfer: AXFR, IXFR or IXFR→AXFR.
pub fn last_kind(z: &Zone) -> Option<&str> {
    z.transfer.last_transfer.as_ref().map(|t| t.kind.as_str())
}

/// The message of the zone's last error.
pub fn last_error(z: &Zone) -> Option<&str> {
    z.transfer.last_error.as_ref().map(|e| e.message.as_str())
}

/// An API object as its JSON, for failure messages.
pub fn pretty<T: Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// Sends `sig` to process `pid` directly (no `kill` program: a minimal
/// machine may not have procps).
pub fn send_signal(pid: u32, sig: Signal) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
    }
}

/// The outbound address policy of every test: primaries on loopback only, so
/// that no test can make the daemon send anything off this machine.
pub const LOOPBACK_ONLY: &str = "allow_primaries = [\"127.0.0.0/8\", \"::1/128\"]\n";

/// Adds [`LOOPBACK_ONLY`] to a test config's `[transfer]` section (creating
/// it when absent), unless the test sets `allow_primaries` itself.
pub fn with_loopback_policy(extra: &str) -> String {
    if extra.contains("allow_primaries") {
        extra.to_string()
    } else if extra.contains("[transfer]\n") {
        extra.replacen("[transfer]\n", &format!("[transfer]\n{LOOPBACK_ONLY}"), 1)
    } else {
        format!("[transfer]\n{LOOPBACK_ONLY}{extra}")
    }
}

/// Test config for transfers: small clamps so timers are seconds, not hours.
pub const FAST_TIMERS: &str = "[transfer]\nrefresh_min = 1\nretry_min = 1\nexpire_min = 1\nidle_timeout = 2\nconnect_timeout = 2\nsoa_timeout = 2\n";

pub fn ctl_with(socket: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_secondaryctl"))
        .arg("--socket")
        .arg(socket)
        .args(args)
        .output()
        .expect("run secondaryctl");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub mod bind;
pub mod fake;
pub mod knot;
pub mod query;
pub mod server;

/// A zone with every record type the transfer tests care about, at `serial`.
pub fn rich_zone(serial: u32) -> String {
    format!(
        r#"$ORIGIN example.test.
$TTL 3600
@       IN SOA ns1.example.test. hostmaster.example.test. {serial} 3600 600 604800 300
@       IN NS  ns1.example.test.
@       IN NS  ns2.elsewhere.test.
@       IN A   192.0.2.1
@       IN AAAA 2001:db8::1
@       IN MX  10 mail.example.test.
@       IN MX  20 mail2.elsewhere.test.
@       IN TXT "v=spf1 -all"
@       IN TXT "several" "strings" "in one record"
@       IN TXT "quote \" and backslash \\ inside"
@       IN TXT "bytes \195\169\226\130\172 and \000 and tab\009"
@       IN CAA 0 issue "letsencrypt.org"
@       IN CAA 128 iodef "mailto:security@example.test"
@       IN DNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==
@       IN RRSIG SOA 13 2 3600 20300101000000 20200101000000 12345 example.test. KmGp5ao6E4X4OQ7yZsaJpSgX3Ek3tJlsc9T3zrVYaZfJyqn2DOs69RMdUnyhMNGKs3mAGlIGJVyNIiTl0X4tRA==
@       IN NSEC a.example.test. A NS SOA MX TXT AAAA RRSIG NSEC DNSKEY CAA
@       IN HTTPS 1 . alpn="h2,h3" port=8443 ipv4hint=192.0.2.1 ipv6hint=2001:db8::1
_sip._tcp IN SRV 10 60 5060 sip.example.test.
svc     IN SVCB 1 svc-backend.example.test. alpn=h2 port=8080 key65333=ab
ns1     IN A   192.0.2.53
mail    IN A   192.0.2.25
sip     IN A   192.0.2.26
a       IN A   192.0.2.2
www     IN CNAME @
1.2.0.192.in-addr IN PTR host.example.test.
naptr   IN NAPTR 100 10 "S" "SIP+D2U" "" _sip._udp.example.test.
naptr   IN NAPTR 100 20 "U" "E2U+sip" "!^.*$!sip:info@example.test!" .
ssh     IN SSHFP 4 2 123456789abcdef67890123456789abcdef67890123456789abcdef123456789
_443._tcp.www IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
*.wild  IN A   192.0.2.99
*.wild  IN TXT "wildcard"
sub     IN NS  ns.sub.example.test.
sub     IN DS  12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
ns.sub  IN A   192.0.2.77
ns.sub  IN AAAA 2001:db8::77
unknown IN TYPE65400 \# 4 0a000001
empty   IN TYPE65401 \# 0
"#
    )
}

/// A small zone of `n` A records plus SOA/NS at `serial` with short timers.
pub fn small_zone(name: &str, serial: u32, n: usize, timers: &str) -> String {
    let mut z = format!(
        "$ORIGIN {name}.\n$TTL 300\n@ IN SOA ns1.{name}. hostmaster.{name}. {serial} {timers}\n@ IN NS ns1.{name}.\nns1 IN A 192.0.2.53\n"
    );
    for i in 0..n {
        z.push_str(&format!("h{i} IN A 10.0.{}.{}\n", i / 250, i % 250 + 1));
    }
    z
}
