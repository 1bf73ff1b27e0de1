//! DNSimple's official Node client (`dnsimple` on npm, the exact version in
//! `tests/clients/node/package-lock.json`) drives every seed endpoint it has
//! over the TCP API with a token, configured as for DNSimple except for its
//! base URL: what a new user of secondaryd would try first.
//!
//! The client speaks HTTPS only, so the daemon's TCP API has the test
//! certificate (`[control] tls_cert`, `tls_key`; `tests/tls/README.md`),
//! whose CA the client trusts through `NODE_EXTRA_CA_CERTS`: its code and
//! options stay untouched. The package is installed with `npm ci` into
//! the target directory on first use. Without Node.js and npm these tests
//! fail with the install command; they never pass without having run.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::bind::{self, Access, Bind};
use common::{small_zone, test_tls_file, Daemon, TEST_CA};
use serde_json::{json, Value};

const TOKEN: &str = "official-client-token";
const CONFIG: &str = "[[token]]\naccount = 1\nsecret = \"official-client-token\"\n";
const INSTALL_HINT: &str = "install Node.js and npm with: apt-get install -y nodejs npm (.ci/run does it)";
/// The files of the package the tests copy next to its node_modules.
const PACKAGE_FILES: [&str; 3] = ["package.json", "package-lock.json", "drive.js"];

/// One install at a time, even with several tests in this binary.
static INSTALL: Mutex<()> = Mutex::new(());

/// Runs `cmd` for at most `limit`, its output read as it comes (so a large
/// output cannot block it); fails the test when it takes longer.
fn run_bounded(mut cmd: Command, what: &str, limit: Duration) -> (ExitStatus, String, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}; {INSTALL_HINT}"));
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for a child process") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status, out.join().unwrap_or_default(), err.join().unwrap_or_default())
}

/// Reads a child's pipe to its end on a thread of its own.
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_string(&mut text);
        }
        text
    })
}

/// Fails the test with the install command unless `program` runs.
fn require(program: &str) {
    match Command::new(program).arg("--version").stdin(Stdio::null()).output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!("`{program} --version` failed ({}); {INSTALL_HINT}", out.status),
        Err(e) => panic!("`{program}` is not installed ({e}): the official-client tests need it; {INSTALL_HINT}"),
    }
}

/// The client package, copied into the target directory with its
/// dependencies installed by `npm ci` (again whenever the lock file changes).
fn client_dir() -> PathBuf {
    let _one_at_a_time = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    require("node");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/node");
    let dst = Path::new(env!("CARGO_TARGET_TMPDIR")).join("official-client-node");
    std::fs::create_dir_all(&dst).expect("create the client package's directory");
    for f in PACKAGE_FILES {
        std::fs::copy(src.join(f), dst.join(f)).unwrap_or_else(|e| panic!("copy tests/clients/node/{f}: {e}"));
    }
    let lock = std::fs::read_to_string(src.join("package-lock.json")).expect("read package-lock.json");
    let stamp = dst.join("node_modules/.installed-from-lock");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(lock.as_str()) {
        require("npm");
        let mut npm = Command::new("npm");
        npm.args(["ci", "--no-audit", "--no-fund"]).current_dir(&dst);
        let (status, out, err) = run_bounded(npm, "npm ci", Duration::from_secs(300));
        assert!(status.success(), "npm ci of tests/clients/node failed ({status}):\n{out}\n{err}");
        std::fs::write(&stamp, &lock).expect("write the install stamp");
    }
    let locked: Value = serde_json::from_str(&lock).expect("package-lock.json is JSON");
    let installed: Value = serde_json::from_str(
        &std::fs::read_to_string(dst.join("node_modules/dnsimple/package.json")).expect("node_modules/dnsimple"),
    )
    .expect("dnsimple's package.json is JSON");
    assert_eq!(
        installed["version"], locked["packages"]["node_modules/dnsimple"]["version"],
        "the installed dnsimple is the locked one"
    );
    dst
}

/// The JSON lines of one `drive.js` run, by step name.
struct Steps(BTreeMap<String, Value>);

impl Steps {
    fn get(&self, step: &str) -> &Value {
        self.0.get(step).unwrap_or_else(|| panic!("drive.js printed no step `{step}`; it printed {:#?}", self.0))
    }

    /// The result of a call that must have succeeded.
    fn ok(&self, step: &str) -> &Value {
        let line = self.get(step);
        assert!(line.get("error").is_none(), "`{step}` failed: {line:#}");
        &line["result"]
    }

    /// The error of a call that must have failed, checked for the client's
    /// error class and the HTTP status.
    fn failed(&self, step: &str, class: &str, status: u16) -> &Value {
        let line = self.get(step);
        let e = &line["error"];
        assert_eq!((e["class"].as_str(), e["status"].as_u64()), (Some(class), Some(u64::from(status))), "{line:#}");
        e
    }
}

/// Runs `node drive.js ARGS…` against the daemon's HTTPS API with `env`.
fn drive(dir: &Path, d: &Daemon, env: &[(&str, String)], args: &[&str]) -> Steps {
    assert!(d.tls, "the client needs the HTTPS API");
    let base_url = format!("https://{}", d.tcp.expect("the daemon's TCP API"));
    let mut cmd = Command::new("node");
    cmd.arg(dir.join("drive.js"))
        .args(args)
        .current_dir(dir)
        .env("DNSIMPLE_BASE_URL", base_url)
        .env("DNSIMPLE_TOKEN", TOKEN)
        .env("NODE_EXTRA_CA_CERTS", test_tls_file(TEST_CA));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let (status, out, err) = run_bounded(cmd, "node drive.js", Duration::from_secs(120));
    assert!(status.success(), "drive.js {args:?} failed ({status}):\n{err}\n{out}");
    let mut steps = BTreeMap::new();
    for line in out.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("drive.js printed non-JSON {line:?}: {e}"));
        let name = v["step"].as_str().unwrap_or_else(|| panic!("a line without a step: {line}")).to_string();
        assert!(steps.insert(name.clone(), v).is_none(), "step `{name}` printed twice");
    }
    Steps(steps)
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list:#}"))
        .iter()
        .filter_map(|o| o["name"].as_str())
        .collect()
}

fn contents(records: &Value) -> Vec<&str> {
    let mut c: Vec<&str> = records
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {records:#}"))
        .iter()
        .filter_map(|r| r["content"].as_str())
        .collect();
    c.sort();
    c
}

#[tokio::test]
async fn dnsimples_node_client_drives_every_seed_endpoint_with_only_its_base_url_changed() {
    let dir = client_dir();
    let zone = "served.test";
    let text = small_zone(zone, 2024, 3, "3600 600 86400 300");
    let mut primary = Bind::start(&[bind::Zone { name: zone, text }], Access::Open, None).await;
    let d = Daemon::start_with_tcp(CONFIG).await;
    let env = [("PRIMARY_PORT", primary.port.to_string()), ("SERVED_ZONE", zone.to_string())];
    let s = drive(&dir, &d, &env, &["seed"]);

    assert_eq!(s.ok("whoami")["data"]["account"]["id"], 1, "the token's account");
    s.failed("whoami with an unknown token", "AuthenticationError", 401);

    let one = &s.ok("create primary one")["data"];
    assert_eq!((&one["name"], &one["ip"], &one["account_id"]), (&json!("Primary One"), &json!("127.0.0.1"), &json!(1)));
    assert_eq!(one["port"], primary.port, "the port the client types as a string is stored as a number");
    assert_eq!(one["linked_secondary_zones"], json!([]));
    assert_eq!(s.ok("create primary two")["data"]["port"], 5399);
    let e = s.failed("create primary with a bad ip", "ClientError", 400);
    assert_eq!(e["errors"]["ip"], json!(["`not-an-address` is not a valid IPv4 or IPv6 address"]), "{e:#}");
    let list = s.ok("list primaries by name desc");
    assert_eq!(names(&list["data"]), ["Primary Two", "Primary One"]);
    assert_eq!(list["pagination"]["total_entries"], 2);
    assert_eq!(names(s.ok("collect all primaries one per page")), ["Primary One", "Primary Two"], "both pages");
    assert_eq!(s.ok("get primary two")["data"]["ip"], "127.0.0.2");
    let e = s.failed("get a missing primary", "NotFoundError", 404);
    assert_eq!(e["message"], "Primary server `999999` not found");

    let z = &s.ok("create served zone")["data"];
    assert_eq!((&z["name"], &z["secondary"]), (&json!(zone), &json!(true)));
    assert_eq!(s.ok("create lonely zone")["data"]["name"], "lonely.example");
    let e = s.failed("create lonely zone again", "ClientError", 400);
    assert!(e["errors"]["name"].is_array(), "{e:#}");

    // The client sends link/unlink's zone in the query string, with no body.
    assert_eq!(s.ok("link primary one to served zone")["data"]["linked_secondary_zones"], json!([zone]));
    assert_eq!(s.ok("link primary two to lonely zone")["data"]["linked_secondary_zones"], json!(["lonely.example"]));
    let e = s.failed("link without a zone", "ClientError", 400);
    assert_eq!(e["errors"]["zone"], json!(["can't be blank"]), "{e:#}");
    let e = s.failed("link to a missing zone", "ClientError", 400);
    assert!(e["errors"]["zone"].is_array(), "{e:#}");
    assert_eq!(s.ok("unlink primary two from lonely zone")["data"]["linked_secondary_zones"], json!([]));
    let e = s.failed("unlink again", "ClientError", 400);
    assert_eq!(e["errors"]["zone"], json!(["`lonely.example` is not linked to primary server `Primary Two`"]));

    assert_eq!(names(&s.ok("get served zone")["data"]["primaries"]), ["Primary One"]);
    assert_eq!(names(&s.ok("list zones by name")["data"]), ["lonely.example", zone]);
    assert_eq!(names(&s.ok("list zones like lonely")["data"]), ["lonely.example"]);
    s.failed("get a missing zone", "NotFoundError", 404);

    let transferred = s.ok("served zone transferred");
    assert_eq!(transferred["data"]["transfer"]["serial"], 2024, "the zone came over from BIND: {transferred:#}");
    assert_eq!(s.ok("distribution of served zone"), &json!({ "data": { "distributed": true } }));
    assert_eq!(
        s.ok("distribution of lonely zone"),
        &json!({ "data": { "distributed": false } }),
        "no primary, no copy"
    );
    s.failed("distribution of a missing zone", "NotFoundError", 404);

    let ns = &s.ok("update served zone ns records")["data"];
    assert_eq!(contents(ns), ["ns1.provider.test", "ns2.provider.test"], "{ns:#}");
    let e = s.failed("update ns records with a bad name", "ClientError", 400);
    assert!(e["errors"]["ns_names"].is_array(), "{e:#}");
    let listed = s.ok("list served zone ns records");
    assert_eq!(contents(&listed["data"]), ["ns1.provider.test", "ns2.provider.test"], "{listed:#}");
    let file = s.ok("served zone file")["data"]["zone"].as_str().unwrap_or_default();
    assert!(file.contains("ns1.provider.test.") && file.contains(" 2024 "), "{file}");

    assert_eq!(s.ok("remove primary two"), &json!({}));
    s.failed("get removed primary two", "NotFoundError", 404);
    assert_eq!(s.ok("delete lonely zone"), &json!({}));
    s.failed("get deleted lonely zone", "NotFoundError", 404);
    assert_eq!(names(&s.ok("list zones at the end")["data"]), [zone]);

    // What the client saw is what the daemon holds.
    let r = d.call("GET", "/v2/1/secondary_dns/primaries", None).await;
    assert_eq!(names(&r.body["data"]), ["Primary One"]);
    assert_eq!(r.body["data"][0]["linked_secondary_zones"], json!([zone]));
    assert_eq!(d.call("GET", "/v2/1/zones/lonely.example", None).await.status, 404);

    // With its primary gone, the zone's distribution cannot be known: the
    // client gets DNSimple's 504 as its ServerError.
    primary.stop();
    let s = drive(&dir, &d, &[], &["distribution", zone]);
    let e = s.failed("distribution", "ServerError", 504);
    assert!(e["message"].as_str().is_some_and(|m| m.starts_with("Could not query zone, ")), "{e:#}");
}
