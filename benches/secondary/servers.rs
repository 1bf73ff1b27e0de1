//! The secondaries under test, each in its own directory with its own config,
//! on its own loopback port, transferring from the one primary:
//!
//! | server | started as | zones from | "committed" seen by | forced re-transfer |
//! |---|---|---|---|---|
//! | secondaryd | `secondaryd --config` | the control API (primary, zone, link) | its SOA over UDP; API `attempts`, `last_transfer` | `POST …/retransfer` |
//! | BIND | `named -g` | `type secondary` zones | its SOA over UDP; log `transferred serial` | `rndc retransfer` |
//! | Knot | `knotd` | `zone:` list, `master` remote | its SOA over UDP; log `refresh, … zone updated` | `knotc zone-retransfer` |
//! | NSD | `nsd -d` | `zone:` list, `request-xfr` | its SOA over UDP; log `serial … is updated to` | `nsd-control force_transfer` |
//!
//! The serial (and "all zones loaded") is the SOA each server answers over UDP
//! on its own port, secondaryd included; the log lines and the API are only
//! for the re-transfer, where the serial does not change.
//!
//! [`Server::tune`] makes a server serve with one worker (`[dns] workers = 1`,
//! `named -n 1`, Knot's `udp-workers`/`tcp-workers`/`background-workers: 1`,
//! NSD's `server-count: 1`, which it always has) and pinned to one CPU
//! (`taskset -c`), for the serving rows.
//!
//! Everyone keeps its zones on disk (secondaryd: SQLite; BIND: raw zone files;
//! Knot: zone files, journal and timers; NSD: zone files and xfrd.state), so
//! a restart starts from what was loaded. NOTIFY from 127.0.0.1 (the
//! primary's address) is accepted by all.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use secondaryd::client::{Client, Endpoint};
use secondaryd::wire::Name;
use serde_json::{json, Value};

use crate::api::ApiConn;
use crate::dns;
use crate::util::{find_tool, free_port, named_base_options, signal, tool, version_of, wait_or_kill, R};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Secondaryd,
    Bind,
    Knot,
    Nsd,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Secondaryd, Kind::Bind, Kind::Knot, Kind::Nsd];

    pub fn parse(s: &str) -> Option<Kind> {
        match s.to_ascii_lowercase().as_str() {
            "secondaryd" => Some(Kind::Secondaryd),
            "bind" | "named" => Some(Kind::Bind),
            "knot" | "knotd" => Some(Kind::Knot),
            "nsd" => Some(Kind::Nsd),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::Secondaryd => "secondaryd",
            Kind::Bind => "BIND",
            Kind::Knot => "Knot",
            Kind::Nsd => "NSD",
        }
    }

    /// The program, or why the server is skipped.
    pub fn available(self) -> Result<(), String> {
        let (prog, package) = match self {
            Kind::Secondaryd => return Ok(()),
            Kind::Bind => ("named", "bind9"),
            Kind::Knot => ("knotd", "knot"),
            Kind::Nsd => ("nsd", "nsd"),
        };
        let ctl = match self {
            Kind::Bind => "rndc",
            Kind::Knot => "knotc",
            _ => "nsd-control",
        };
        for p in [prog, ctl] {
            if find_tool(p).is_none() {
                return Err(format!("`{p}` not found: skipped (apt-get install -y {package})"));
            }
        }
        Ok(())
    }

    pub fn version(self) -> String {
        let v = match self {
            Kind::Secondaryd => Some(format!("secondaryd {}", env!("CARGO_PKG_VERSION"))),
            Kind::Bind => version_of("named", "-v"),
            Kind::Knot => version_of("knotd", "-V"),
            Kind::Nsd => version_of("nsd", "-v"),
        };
        v.unwrap_or_else(|| "?".into())
    }

    /// Several processes (peak memory is then sampled as summed Pss).
    pub fn multi_process(self) -> bool {
        self == Kind::Nsd
    }
}

/// NSD 4.0–4.7 (the `database` option went away in 4.8).
fn nsd_has_database() -> bool {
    let v = Kind::Nsd.version();
    let Some(num) = v.split_whitespace().find(|w| w.starts_with("4.")) else { return false };
    num.split('.').nth(1).and_then(|m| m.parse::<u32>().ok()).is_some_and(|m| m < 8)
}

/// `--keep`: leave the servers' directories (configs, logs, state) for a look.
pub static KEEP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

const RNDC_KEY: &str = "c2Vjb25kYXJ5ZC1iZW5jaC1ybmRjLWtleS0wMTIzNDU=";

/// The progress of transfers of one zone, to tell when a new one is committed.
#[derive(Debug, Clone, PartialEq)]
pub enum Marker {
    /// Lines of the server's log that announce a committed transfer of the zone.
    Log(usize),
    /// secondaryd: the zone's refresh attempts and its last transfer.
    Api { attempts: u64, last: String },
}

pub struct Server {
    pub kind: Kind,
    pub dir: PathBuf,
    pub port: u16,
    ctl_port: u16,
    primary: SocketAddr,
    zones: Vec<String>,
    child: Option<Child>,
    configured: bool,
    /// How long the API calls that added the zones took (secondaryd, first start).
    pub api_time: Option<Duration>,
    /// One worker thread / process for answering (the serving rows).
    one_worker: bool,
    /// The CPU the process (and what it forks) is pinned to.
    cpu: Option<usize>,
    /// More secondaryd config (e.g. `[[downstream]]` entries).
    extra: String,
    /// Its one zone is a catalog (RFC 9432) to consume: the members come from it.
    catalog: bool,
    /// secondaryd: each zone added by one request (`primaries` on zone
    /// create), not create + link.
    pub one_request: bool,
}

impl Server {
    /// A server with empty state in `dir` (created), for `zones` of `primary`.
    pub fn new(kind: Kind, dir: &Path, primary: SocketAddr, zones: Vec<String>) -> R<Server> {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        let s = Server {
            kind,
            dir: dir.to_path_buf(),
            port: free_port(),
            ctl_port: free_port(),
            primary,
            zones,
            child: None,
            configured: false,
            api_time: None,
            one_worker: false,
            cpu: None,
            extra: String::new(),
            catalog: false,
            one_request: false,
        };
        s.write_config()?;
        Ok(s)
    }

    /// Serves with one worker (`one_worker`) and runs pinned to `cpu`, from
    /// the next start on.
    pub fn tune(&mut self, one_worker: bool, cpu: Option<usize>) -> R<()> {
        self.one_worker = one_worker;
        self.cpu = cpu;
        self.write_config()
    }

    /// Its zone is a catalog zone to consume (secondaryd, BIND, Knot): its
    /// members become zones of the server, from the same primary.
    pub fn consume_catalog(&mut self) -> R<()> {
        self.catalog = true;
        self.write_config()
    }

    /// Appends `text` to secondaryd's config, from the next start on.
    pub fn set_extra(&mut self, text: &str) -> R<()> {
        self.extra = text.to_string();
        self.write_config()
    }

    fn conf(&self) -> PathBuf {
        self.dir.join(match self.kind {
            Kind::Secondaryd => "secondaryd.toml",
            Kind::Bind => "named.conf",
            Kind::Knot => "knot.conf",
            Kind::Nsd => "nsd.conf",
        })
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join(match self.kind {
            Kind::Secondaryd => "secondaryd.log",
            Kind::Bind => "named.log",
            Kind::Knot => "knot.log",
            Kind::Nsd => "nsd.log",
        })
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn write_config(&self) -> R<()> {
        let d = self.dir.display();
        let (pip, pport) = (self.primary.ip(), self.primary.port());
        let port = self.port;
        let mut text = match self.kind {
            Kind::Secondaryd => format!(
                "[store]\npath = \"secondaryd.db\"\n[control]\nsocket = \"control.sock\"\n\
                 [dns]\nlisten = [\"127.0.0.1:{port}\"]\n{workers}\
                 [transfer]\nallow_primaries = [\"127.0.0.0/8\", \"::1/128\"]\n\
                 [[downstream]]\naddress = \"127.0.0.0/8\"\n{extra}",
                workers = if self.one_worker { "workers = 1\n" } else { "" },
                extra = self.extra
            ),
            Kind::Bind => {
                std::fs::write(
                    self.dir.join("rndc.key"),
                    format!("key \"rndc-key\" {{ algorithm hmac-sha256; secret \"{RNDC_KEY}\"; }};\n"),
                )
                .map_err(|e| e.to_string())?;
                let base = named_base_options(&self.dir, port);
                // serial-query-rate: the default 20/s would make 10,000 zones
                // bootstrap in 500 s (every first transfer starts with a SOA query).
                format!(
                    r#"include "{d}/rndc.key";
options {{
{base}    serial-query-rate 1000;
    allow-transfer {{ 127.0.0.1; }};
{catalog}}};
controls {{ inet 127.0.0.1 port {ctl} allow {{ 127.0.0.1; }} keys {{ "rndc-key"; }}; }};
"#,
                    ctl = self.ctl_port,
                    catalog = match (self.catalog, self.zones.first()) {
                        (true, Some(c)) => format!(
                            "    allow-new-zones yes;\n    catalog-zones {{ zone \"{c}\" default-primaries {{ {pip} port {pport}; }} in-memory yes min-update-interval 1; }};\n"
                        ),
                        _ => String::new(),
                    }
                )
            }
            Kind::Knot => {
                // Knot 3.3 renamed `master` to `primary`.
                let v = self.kind.version();
                let key = if v.contains("version 3.0") || v.contains("version 3.1") || v.contains("version 3.2") {
                    "master"
                } else {
                    "primary"
                };
                let workers = if self.one_worker {
                    "    udp-workers: 1\n    tcp-workers: 1\n    background-workers: 1\n"
                } else {
                    ""
                };
                format!(
                    r#"server:
    rundir: "{d}"
    listen: 127.0.0.1@{port}
{workers}log:
  - target: stderr
    any: info
database:
    storage: "{d}"
control:
    listen: "{d}/knot.sock"
remote:
  - id: primary
    address: {pip}@{pport}
acl:
  - id: notify_from_primary
    address: {pip}
    action: notify
  - id: axfr_out
    address: 127.0.0.1
    action: transfer
template:
  - id: default
    storage: "{d}"
    {key}: primary
    acl: [notify_from_primary, axfr_out]
zone:
"#
                )
            }
            Kind::Nsd => format!(
                // NSD before 4.8 keeps transferred zones in its database by
                // default (restarts load them from there): keep that default,
                // in our directory. `rrl-ratelimit: 0`: Debian builds NSD with
                // response rate limiting at 200 answers a second per /24, which
                // would throttle the harness's SOA polls and dnsperf (all from
                // 127.0.0.1).
                r#"server:
    ip-address: 127.0.0.1@{port}
    port: {port}
    do-ip6: no
    username: ""
    chroot: ""
    zonesdir: "{d}"
{database}    pidfile: "{d}/nsd.pid"
    xfrdfile: "{d}/xfrd.state"
    xfrdir: "{d}"
    zonelistfile: "{d}/zone.list"
    logfile: "{d}/nsd.log"
    verbosity: 2
    server-count: 1
    rrl-ratelimit: 0
remote-control:
    control-enable: yes
    control-interface: "{d}/nsd.sock"
pattern:
    name: "secondary"
    request-xfr: {pip}@{pport} NOKEY
    allow-notify: {pip} NOKEY
    provide-xfr: 127.0.0.1 NOKEY
"#,
                database = if nsd_has_database() { format!("    database: \"{d}/nsd.db\"\n") } else { String::new() }
            ),
        };
        for z in &self.zones {
            match self.kind {
                Kind::Secondaryd => {}
                Kind::Bind => text.push_str(&format!(
                    "zone \"{z}\" {{ type secondary; primaries {{ {pip} port {pport}; }}; file \"{z}.db\"; }};\n"
                )),
                Kind::Knot if self.catalog => text.push_str(&format!(
                    "  - domain: {z}\n    catalog-role: interpret\n    catalog-template: default\n"
                )),
                Kind::Knot => text.push_str(&format!("  - domain: {z}\n")),
                Kind::Nsd => text.push_str(&format!(
                    "zone:\n    name: \"{z}\"\n    zonefile: \"{z}.zone\"\n    include-pattern: \"secondary\"\n"
                )),
            }
        }
        std::fs::write(self.conf(), text).map_err(|e| format!("write config: {e}"))
    }
}

/// Creates `zones` and links each to `primary` (create + link, as DNSimple's
/// API has it; with `one_request`, in the zone create's `primaries`, what
/// `secondaryctl zone add` sends), four lanes in flight, each on one
/// kept-alive connection.
pub async fn add_zones(socket: &Path, zones: &[String], primary: &str, catalog: bool, one_request: bool) -> R<()> {
    let mut tasks = tokio::task::JoinSet::new();
    let lanes = 4;
    for lane in 0..lanes {
        let zones: Vec<String> = zones.iter().skip(lane).step_by(lanes).cloned().collect();
        let socket = socket.to_path_buf();
        let primary = primary.to_string();
        tasks.spawn(async move {
            let mut conn = ApiConn::unix(&socket).await?;
            let link = format!("/v2/1/secondary_dns/primaries/{primary}/link");
            for z in zones {
                if one_request {
                    let body = json!({ "name": z, "catalog": catalog, "primaries": [primary] });
                    conn.ok("POST", "/v2/1/secondary_dns/zones", Some(&body)).await?;
                } else {
                    conn.ok("POST", "/v2/1/secondary_dns/zones", Some(&json!({ "name": z, "catalog": catalog })))
                        .await?;
                    conn.ok("PUT", &link, Some(&json!({ "zone": z }))).await?;
                }
            }
            Ok::<(), String>(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.map_err(|e| e.to_string())??;
    }
    Ok(())
}

impl Server {
    pub fn socket(&self) -> PathBuf {
        self.dir.join("control.sock")
    }

    pub fn client(&self) -> Client {
        Client::new(Endpoint::Unix(self.dir.join("control.sock")))
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Starts the process (on whatever state its directory holds). The first
    /// time, secondaryd is waited for until its socket answers and is given the
    /// primary and the zones over the API (linking starts each transfer).
    pub async fn start(&mut self) -> R<()> {
        let conf = self.conf();
        let (prog, mut args): (PathBuf, Vec<std::ffi::OsString>) = match self.kind {
            Kind::Secondaryd => (PathBuf::from(env!("CARGO_BIN_EXE_secondaryd")), vec!["--config".into(), conf.into()]),
            Kind::Bind => (tool("named")?, vec!["-g".into(), "-c".into(), conf.into()]),
            Kind::Knot => (tool("knotd")?, vec!["-c".into(), conf.into()]),
            Kind::Nsd => (tool("nsd")?, vec!["-d".into(), "-c".into(), conf.into()]),
        };
        if self.kind == Kind::Bind && self.one_worker {
            args.extend(["-n".into(), "1".into()]);
        }
        // taskset execs the server: the child's pid is the server's.
        let mut cmd = match self.cpu {
            Some(cpu) => {
                let mut c = Command::new(tool("taskset")?);
                c.arg("-c").arg(cpu.to_string()).arg(prog);
                c
            }
            None => Command::new(prog),
        };
        cmd.args(args);
        if self.kind == Kind::Secondaryd {
            cmd.env("RUST_LOG", "info");
        }
        let err_path = if self.kind == Kind::Nsd { self.dir.join("nsd.stderr") } else { self.log_path() };
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&err_path)
            .map_err(|e| format!("open {}: {e}", err_path.display()))?;
        let child = cmd
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("start {}: {e}", self.kind.label()))?;
        self.child = Some(child);
        // The first time, secondaryd is given its primary and zones over the
        // API. A restart is not waited for: the caller polls the zones' SOA,
        // as for every server.
        if self.kind == Kind::Secondaryd && !self.configured {
            self.wait_api().await?;
            self.configure().await?;
            self.configured = true;
        }
        Ok(())
    }

    fn check_alive(&mut self) -> R<()> {
        if let Some(c) = self.child.as_mut() {
            if let Ok(Some(st)) = c.try_wait() {
                self.child = None;
                return Err(format!("{} exited with {st}: {}", self.kind.label(), self.log_tail(8)));
            }
        }
        Ok(())
    }

    pub fn log_tail(&self, n: usize) -> String {
        let mut s = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        if self.kind == Kind::Nsd {
            s.push_str(&std::fs::read_to_string(self.dir.join("nsd.stderr")).unwrap_or_default());
        }
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(n)..].join(" | ")
    }

    async fn wait_api(&mut self) -> R<()> {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            self.check_alive()?;
            if let Ok(r) = self.client().get("/v2/whoami").await {
                if r.status == 200 {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(format!("secondaryd did not answer in 120 s: {}", self.log_tail(8)));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    async fn api(&self, method: &str, path: &str, body: Option<Value>) -> R<Value> {
        let r = self.client().request(method, path, body.as_ref()).await.map_err(|e| e.to_string())?;
        if !r.is_success() {
            return Err(format!("{method} {path}: {}", r.error_message()));
        }
        Ok(r.body)
    }

    /// secondaryd: the primary, then every zone created and linked, four
    /// requests in flight at a time, each lane on one kept-alive connection.
    async fn configure(&mut self) -> R<()> {
        let body = json!({ "name": "primary", "ip": self.primary.ip().to_string(), "port": self.primary.port() });
        self.api("POST", "/v2/1/secondary_dns/primaries", Some(body)).await?;
        let t0 = Instant::now();
        add_zones(&self.dir.join("control.sock"), &self.zones, "primary", self.catalog, self.one_request).await?;
        self.api_time = Some(t0.elapsed());
        Ok(())
    }

    /// The serial the server answers for `zone` over UDP (`None`: not loaded).
    pub async fn serial(&mut self, zone: &str) -> R<Option<u32>> {
        self.check_alive()?;
        Ok(dns::soa(self.addr(), &dns::name(zone), Duration::from_millis(300)).await)
    }

    /// Of `zones` (indices into `names`), those whose SOA the server answers now.
    pub async fn loaded(&mut self, names: &[Name], pending: &[usize]) -> R<Vec<usize>> {
        self.check_alive()?;
        let ask: Vec<Name> = pending.iter().map(|&i| names[i].clone()).collect();
        let serials = dns::soa_many(self.addr(), &ask).await;
        Ok(pending.iter().zip(serials).filter(|(_, s)| s.is_some()).map(|(&i, _)| i).collect())
    }

    pub async fn marker(&mut self, zone: &str) -> R<Marker> {
        self.check_alive()?;
        if self.kind == Kind::Secondaryd {
            let z = self.api("GET", &format!("/v2/1/zones/{zone}"), None).await?;
            let t = &z["data"]["transfer"];
            if t["refreshing"] == true || t["queued"] == true {
                return Err("busy".into());
            }
            return Ok(Marker::Api {
                attempts: t["attempts"].as_u64().unwrap_or(0),
                last: t["last_transfer"].to_string(),
            });
        }
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let n = match self.kind {
            Kind::Bind => {
                let needle = format!("zone {zone}/IN: transferred serial");
                log.lines().filter(|l| l.contains(&needle)).count()
            }
            Kind::Knot => {
                let needle = format!("[{zone}.] refresh, remote");
                log.lines().filter(|l| l.contains(&needle) && l.contains("zone updated")).count()
            }
            _ => {
                let needle = format!("zone {zone} serial ");
                log.lines().filter(|l| l.contains(&needle) && l.contains(" is updated to ")).count()
            }
        };
        Ok(Marker::Log(n))
    }

    /// Whether a transfer of `zone` was committed since `before` was taken.
    pub async fn committed_since(&mut self, zone: &str, before: &Marker) -> R<bool> {
        let now = match self.marker(zone).await {
            Err(e) if e == "busy" => return Ok(false),
            other => other?,
        };
        match (before, &now) {
            (Marker::Log(a), Marker::Log(b)) => Ok(b > a),
            (Marker::Api { attempts: a0, last: l0 }, Marker::Api { attempts: a1, last: l1 }) => {
                if a1 <= a0 {
                    return Ok(false);
                }
                if l1 == l0 {
                    let z = self.api("GET", &format!("/v2/1/zones/{zone}"), None).await?;
                    return Err(format!("secondaryd: the refresh ended without a transfer: {}", z["data"]["transfer"]));
                }
                Ok(true)
            }
            _ => Err("marker mismatch".into()),
        }
    }

    /// Asks for a full transfer now, whatever the serial.
    pub async fn retransfer(&mut self, zone: &str) -> R<()> {
        let run = |mut c: Command| -> R<()> {
            let out = c.output().map_err(|e| e.to_string())?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
            }
        };
        match self.kind {
            Kind::Secondaryd => {
                self.api("POST", &format!("/v2/1/zones/{zone}/retransfer"), None).await?;
                Ok(())
            }
            Kind::Bind => {
                let mut c = Command::new(tool("rndc")?);
                c.arg("-k").arg(self.dir.join("rndc.key")).args([
                    "-s",
                    "127.0.0.1",
                    "-p",
                    &self.ctl_port.to_string(),
                    "retransfer",
                    zone,
                ]);
                run(c)
            }
            Kind::Knot => {
                let mut c = Command::new(tool("knotc")?);
                c.arg("-c").arg(self.conf()).args(["zone-retransfer", zone]);
                run(c)
            }
            Kind::Nsd => {
                let mut c = Command::new(tool("nsd-control")?);
                c.arg("-c").arg(self.conf()).args(["force_transfer", zone]);
                run(c)
            }
        }
    }

    /// Stops the server cleanly (SIGTERM) and waits for it: it saves its state.
    pub fn stop(&mut self) -> R<()> {
        let Some(mut child) = self.child.take() else { return Ok(()) };
        let target = match self.kind {
            // The pid file names NSD's main process.
            Kind::Nsd => std::fs::read_to_string(self.dir.join("nsd.pid"))
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok())
                .unwrap_or(child.id()),
            _ => child.id(),
        };
        let root = child.id();
        signal(target, "TERM");
        let clean = wait_or_kill(&mut child, Duration::from_secs(120));
        // NSD's other processes follow their parent.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !crate::mem::tree(root).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if clean {
            Ok(())
        } else {
            Err(format!("{} did not stop within 120 s of SIGTERM", self.kind.label()))
        }
    }

    /// Stops it and removes its directory (unless `--keep`).
    pub fn discard(mut self) {
        let _ = self.stop();
        if !KEEP.load(std::sync::atomic::Ordering::Relaxed) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
