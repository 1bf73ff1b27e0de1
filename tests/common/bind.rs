//! A real BIND `named` primary for the tests: its own config and temp dir,
//! 127.0.0.1 on a free port, a TSIG key, `ixfr-from-differences yes`, and
//! (optionally) NOTIFY to the daemon under test.
//!
//! With `SECONDARYD_TEST_BIND=container` the primary's `named` runs in a
//! container instead (Debian bookworm's bind9, image from scripts/bind-image),
//! on the host network, with the same config and files: see [`Named`]. The BIND
//! secondaries and the tools (`dig`, `named-checkzone`) stay local.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::free_port;

/// The TSIG secret the tests share with BIND (base64 of 32 bytes).
pub const KEY_NAME: &str = "xfr-key";
pub const KEY_SECRET: &str = "c2Vjb25kYXJ5ZC10ZXN0LWtleS0wMTIzNDU2Nzg5YWI=";

/// Finds a BIND tool in PATH or the usual sbin directories, or fails the test
/// with the install command: BIND tests never pass silently without BIND.
pub fn tool(name: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    dirs.extend(["/usr/sbin", "/usr/bin", "/sbin", "/usr/local/sbin"].iter().map(PathBuf::from));
    for d in dirs {
        let p = d.join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "`{name}` is not installed: the BIND tests need a real BIND. \
         Install it with: apt-get install -y bind9 bind9-utils bind9-dnsutils"
    );
}

/// How the primary restricts transfers.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone may transfer.
    Open,
    /// Only requests signed with the test key.
    Tsig,
}

pub struct Zone<'a> {
    pub name: &'a str,
    /// Zone file text (with `$ORIGIN`/`$TTL` as needed).
    pub text: String,
}

pub struct Bind {
    pub dir: tempfile::TempDir,
    pub port: u16,
    notify_port: Option<u16>,
    access: Access,
    zones: Vec<String>,
    named: Option<Named>,
}

impl Bind {
    /// Starts `named` serving `zones`; NOTIFY goes to `notify_port` when set.
    pub async fn start(zones: &[Zone<'_>], access: Access, notify_port: Option<u16>) -> Bind {
        let dir = tempfile::tempdir().expect("temp dir for named");
        let port = free_port();
        for z in zones {
            std::fs::write(dir.path().join(format!("{}.zone", z.name)), &z.text).expect("write zone file");
        }
        let mut b = Bind {
            dir,
            port,
            notify_port,
            access,
            zones: zones.iter().map(|z| z.name.to_string()).collect(),
            named: None,
        };
        b.write_config();
        b.spawn().await;
        b
    }

    fn write_config(&self) {
        let allow = match self.access {
            Access::Open => "any;".to_string(),
            Access::Tsig => format!("key \"{KEY_NAME}\";"),
        };
        let notify = match self.notify_port {
            Some(p) => format!("notify explicit;\n    also-notify {{ 127.0.0.1 port {p}; }};\n    notify-delay 0;"),
            None => "notify no;".to_string(),
        };
        let mut conf = format!(
            r#"key "{KEY_NAME}" {{ algorithm hmac-sha256; secret "{KEY_SECRET}"; }};
options {{
{base}    ixfr-from-differences yes;
    allow-transfer {{ {allow} }};
    {notify}
    transfers-out 100;
    tcp-clients 1000;
    serial-query-rate 1000;
    notify-rate 1000;
    startup-notify-rate 1000;
}};
controls {{ }};
logging {{ channel s {{ stderr; severity info; }}; category default {{ s; }}; category xfer-out {{ s; }}; category notify {{ s; }}; }};
"#,
            base = loopback_options(self.dir.path(), self.port)
        );
        for z in &self.zones {
            conf.push_str(&format!("zone \"{z}\" {{ type primary; file \"{z}.zone\"; }};\n"));
        }
        std::fs::write(self.dir.path().join("named.conf"), conf).expect("write named.conf");
    }

    pub fn log(&self) -> String {
        match &self.named {
            Some(Named::Container(id)) => container_log(id),
            _ => std::fs::read_to_string(self.dir.path().join("named.log")).unwrap_or_default(),
        }
    }

    async fn spawn(&mut self) {
        self.named = Some(Named::spawn(self.dir.path()));
        self.wait_ready().await;
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.named.as_mut().and_then(Named::exited) {
                panic!("named exited with {status} during start-up; log:\n{}", self.log());
            }
            let mut all = true;
            for z in &self.zones {
                if self.serial(z).await.is_none() {
                    all = false;
                    break;
                }
            }
            if all {
                return;
            }
            assert!(Instant::now() < deadline, "named did not serve its zones within 30 s; log:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The SOA serial BIND serves for `zone`, if it answers.
    pub async fn serial(&self, zone: &str) -> Option<u32> {
        let name = secondaryd::wire::Name::from_ascii(zone).ok()?;
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        secondaryd::xfr::client::query_soa(addr, &name, None, Duration::from_millis(500)).await.ok().map(|s| s.serial)
    }

    /// Rewrites a zone file and reloads (SIGHUP), then waits until BIND serves `serial`.
    pub async fn update_zone(&self, zone: &str, text: &str, serial: u32) {
        std::fs::write(self.dir.path().join(format!("{zone}.zone")), text).expect("write zone file");
        self.reload().await;
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.serial(zone).await != Some(serial) {
            assert!(Instant::now() < deadline, "named did not load serial {serial} of {zone}; log:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn reload(&self) {
        if let Some(named) = &self.named {
            named.reload();
        }
    }

    /// `dig axfr` of a zone (with the test key when the primary requires it).
    pub fn dig_axfr(&self, zone: &str) -> String {
        let mut cmd = Command::new(tool("dig"));
        cmd.args(["+nocmd", "+nostats", "+nocomments", "+noquestion", "axfr", zone, "@127.0.0.1", "-p"])
            .arg(self.port.to_string());
        if self.access == Access::Tsig {
            cmd.arg("-y").arg(format!("hmac-sha256:{KEY_NAME}:{KEY_SECRET}"));
        }
        let out = cmd.output().expect("run dig");
        assert!(out.status.success(), "dig axfr failed: {}", String::from_utf8_lossy(&out.stderr));
        // dig prints the TSIG records of the answer messages: not zone data.
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.split_whitespace().nth(3) != Some("TSIG"))
            .map(|l| format!("{l}\n"))
            .collect()
    }

    pub fn stop(&mut self) {
        if let Some(named) = self.named.take() {
            named.stop(self.dir.path());
        }
    }

    /// Starts the same named again (same port, same files).
    pub async fn start_again(&mut self) {
        self.spawn().await;
    }
}

impl Drop for Bind {
    fn drop(&mut self) {
        if let Some(named) = self.named.take() {
            named.kill();
        }
    }
}

/// Where the primary's `named` runs.
///
/// `Container`: `docker run --network host` of the image scripts/bind-image
/// makes (`SECONDARYD_BIND_IMAGE`, default `secondaryd-bind9:bookworm`; never
/// pulled from a registry: a missing image fails the test), as the
/// owner of the temp dir, which is mounted at the same path so the config, zone
/// files and journals are where they are for a local `named`. It listens on
/// 127.0.0.1 only, as the local one does (`loopback_options`). Its log is
/// `docker logs`; a stopped one's is saved to named.log before the container goes.
enum Named {
    Local(Child),
    Container(String),
}

const IMAGE: &str = "secondaryd-bind9:bookworm";

impl Named {
    fn spawn(dir: &Path) -> Named {
        let conf = dir.join("named.conf");
        match std::env::var("SECONDARYD_TEST_BIND").as_deref() {
            Err(_) | Ok("") | Ok("local") => {
                let log = std::fs::File::create(dir.join("named.log")).expect("named log");
                let child = Command::new(tool("named"))
                    .arg("-g")
                    .arg("-c")
                    .arg(&conf)
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(log)
                    .spawn()
                    .expect("start named");
                Named::Local(child)
            }
            Ok("container") => {
                use std::os::unix::fs::MetadataExt;
                let owner = std::fs::metadata(dir).expect("temp dir metadata");
                let image = std::env::var("SECONDARYD_BIND_IMAGE").unwrap_or_else(|_| IMAGE.to_string());
                let mount = format!("{0}:{0}", dir.display());
                let out = docker(&[
                    "run",
                    "-d",
                    "--pull",
                    "never",
                    "--init",
                    "--network",
                    "host",
                    "--label",
                    "secondaryd-test=bind",
                ])
                .args(["--user", &format!("{}:{}", owner.uid(), owner.gid()), "-v", &mount, &image])
                .args(["/usr/sbin/named", "-g", "-c"])
                .arg(&conf)
                .output()
                .expect("run docker");
                assert!(
                    out.status.success(),
                    "docker run of the BIND image {image} failed (make it with scripts/bind-image): {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                Named::Container(String::from_utf8_lossy(&out.stdout).trim().to_string())
            }
            Ok(other) => panic!("SECONDARYD_TEST_BIND is `{other}`: `local` (the default) or `container`"),
        }
    }

    /// How it ended, if it has.
    fn exited(&mut self) -> Option<String> {
        match self {
            Named::Local(c) => c.try_wait().ok().flatten().map(|s| s.to_string()),
            Named::Container(id) => {
                let out = docker(&["inspect", "-f", "{{.State.Running}} {{.State.ExitCode}}", id]).output().ok()?;
                let state = String::from_utf8_lossy(&out.stdout).trim().to_string();
                match state.split_once(' ') {
                    Some(("false", code)) => Some(format!("exit status: {code}")),
                    _ => None,
                }
            }
        }
    }

    /// SIGHUP: reload the config and zone files.
    fn reload(&self) {
        match self {
            Named::Local(c) => super::send_signal(c.id(), super::Signal::SIGHUP),
            Named::Container(id) => {
                let ok = docker(&["kill", "--signal", "HUP", id]).output().is_ok_and(|o| o.status.success());
                assert!(ok, "docker kill --signal HUP {id} failed");
            }
        }
    }

    /// SIGTERM, and SIGKILL if it is still there after 10 s.
    fn stop(self, dir: &Path) {
        match self {
            Named::Local(mut c) => {
                super::send_signal(c.id(), super::Signal::SIGTERM);
                let deadline = Instant::now() + Duration::from_secs(10);
                while Instant::now() < deadline {
                    if let Ok(Some(_)) = c.try_wait() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = c.kill();
                let _ = c.wait();
            }
            Named::Container(id) => {
                let _ = docker(&["stop", "-t", "10", &id]).output();
                let _ = std::fs::write(dir.join("named.log"), container_log(&id));
                let _ = docker(&["rm", "-f", &id]).output();
            }
        }
    }

    fn kill(self) {
        match self {
            Named::Local(mut c) => {
                let _ = c.kill();
                let _ = c.wait();
            }
            Named::Container(id) => {
                let _ = docker(&["rm", "-f", &id]).output();
            }
        }
    }
}

fn docker(args: &[&str]) -> Command {
    let mut cmd = Command::new("docker");
    cmd.args(args).stdin(Stdio::null());
    cmd
}

/// What `named -g` in the container printed (it logs to stderr).
fn container_log(id: &str) -> String {
    match docker(&["logs", id]).output() {
        Ok(out) => format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        Err(e) => format!("(docker logs {id}: {e})"),
    }
}

/// Canonical form of a zone, via `named-checkzone -D`: one record per line,
/// names absolute and lower-case, sorted. Also proves BIND accepts the text.
pub fn canonical(zone: &str, text: &str) -> Vec<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("zone.db");
    // dig's AXFR output repeats the SOA at the end; named-checkzone treats the
    // copy as the same record, which is what we want.
    std::fs::write(&path, text).expect("write");
    let out = Command::new(tool("named-checkzone"))
        .args([
            "-D", "-o", "-", "-i", "none", "-k", "ignore", "-n", "ignore", "-m", "ignore", "-M", "ignore", "-S",
            "ignore",
        ])
        .arg(zone)
        .arg(&path)
        .output()
        .expect("run named-checkzone");
    assert!(
        out.status.success(),
        "named-checkzone rejected the zone: {}{}\n--- zone ---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with(';'))
        .map(|l| {
            let mut fields = l.split_whitespace();
            let owner = fields.next().unwrap_or_default().to_ascii_lowercase();
            std::iter::once(owner).chain(fields.map(str::to_string)).collect::<Vec<_>>().join(" ")
        })
        .collect();
    lines.sort();
    lines.dedup();
    lines
}

/// The `options` lines every test `named` shares: its own files in `dir`, port
/// `port` on 127.0.0.1 only, and nothing that would make it send anywhere
/// else (no recursion, no DNSSEC validation, so no root priming).
pub fn loopback_options(dir: &Path, port: u16) -> String {
    let d = dir.display();
    format!(
        r#"    directory "{d}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
"#
    )
}

/// A real BIND `named` as a *secondary* of a server under test (a downstream
/// of secondaryd, or the reference next to it): `type secondary` for `zones`
/// from 127.0.0.1:`primary_port`, with the test key when `signed`, on its own
/// loopback port. NOTIFY from 127.0.0.1 makes it refresh at once.
pub type Secondary = super::server::LocalServer;

/// Starting BIND secondaries.
pub struct BindSecondary;
impl BindSecondary {
    pub fn start(zones: &[&str], primary_port: u16, signed: bool) -> Secondary {
        Self::start_at(free_port(), zones, primary_port, signed)
    }

    /// [`BindSecondary::start`] on a port chosen beforehand (to name it as a
    /// NOTIFY target in the primary's config).
    pub fn start_at(port: u16, zones: &[&str], primary_port: u16, signed: bool) -> Secondary {
        Self::start_with(port, zones, primary_port, signed, None)
    }

    /// A BIND that consumes the catalog zone `catalog` (RFC 9432, BIND's
    /// `catalog-zones`) from the primary: it adds and removes member zones by
    /// itself, transferring them from the same primary.
    pub fn start_catalog_consumer(port: u16, catalog: &str, primary_port: u16, signed: bool) -> Secondary {
        Self::start_with(port, &[catalog], primary_port, signed, Some(catalog))
    }

    fn start_with(port: u16, zones: &[&str], primary_port: u16, signed: bool, catalog: Option<&str>) -> Secondary {
        let named = tool("named");
        let dir = tempfile::tempdir().expect("temp dir for the BIND secondary");
        let key = if signed { format!(" key \"{KEY_NAME}\"") } else { String::new() };
        let mut conf = format!(
            r#"key "{KEY_NAME}" {{ algorithm hmac-sha256; secret "{KEY_SECRET}"; }};
options {{
{base}    notify no;
    transfer-source 127.0.0.1;
    query-source address 127.0.0.1;
    serial-query-rate 1000;
{catalog}}};
controls {{ }};
logging {{ channel s {{ stderr; severity info; }}; category default {{ s; }}; category xfer-in {{ s; }}; category notify {{ s; }}; }};
"#,
            base = loopback_options(dir.path(), port),
            catalog = match catalog {
                Some(c) => format!(
                    "    allow-new-zones yes;\n    catalog-zones {{ zone \"{c}\" default-primaries {{ 127.0.0.1 port {primary_port}{key}; }} in-memory yes min-update-interval 1; }};\n"
                ),
                None => String::new(),
            }
        );
        for z in zones {
            conf.push_str(&format!(
                "zone \"{z}\" {{ type secondary; primaries {{ 127.0.0.1 port {primary_port}{key}; }}; file \"{z}.db\"; }};\n"
            ));
        }
        Secondary::spawn(dir, port, &named, &["-g", "-c"], "named.conf", &conf, "the BIND secondary", "named.log")
    }
}
