//! A real Knot DNS `knotd` as a secondary of the server under test, on its own
//! loopback port and directory, with the test TSIG key; used where `knotd` is
//! installed (CI installs it).

use std::path::PathBuf;
use std::process::Command;

use super::bind::{KEY_NAME, KEY_SECRET};

/// `knotd`, if installed.
pub fn knotd() -> Option<PathBuf> {
    ["/usr/sbin/knotd", "/usr/bin/knotd", "/usr/local/sbin/knotd"].iter().map(PathBuf::from).find(|p| p.is_file())
}

pub type Knot = super::server::LocalServer;

/// Starting Knot secondaries.
pub struct KnotSecondary;

impl KnotSecondary {
    /// Starts `knotd` (at `path`) as a secondary for `zones` of
    /// 127.0.0.1:`primary_port`, transfers and NOTIFY signed with the test key.
    pub fn start(path: &PathBuf, port: u16, zones: &[&str], primary_port: u16) -> Knot {
        let dir = tempfile::tempdir().expect("temp dir for knotd");
        let d = dir.path().display();
        let version = Command::new(path).arg("-V").output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
        let old = version
            .as_deref()
            .is_ok_and(|v| ["version 3.0", "version 3.1", "version 3.2"].iter().any(|x| v.contains(x)));
        let primary = if old { "master" } else { "primary" };
        let mut conf = format!(
            r#"server:
    rundir: "{d}"
    listen: 127.0.0.1@{port}
log:
  - target: stderr
    any: info
database:
    storage: "{d}"
control:
    listen: "{d}/knot.sock"
key:
  - id: {KEY_NAME}
    algorithm: hmac-sha256
    secret: {KEY_SECRET}
remote:
  - id: upstream
    address: 127.0.0.1@{primary_port}
    key: {KEY_NAME}
acl:
  - id: from_upstream
    address: 127.0.0.1
    key: {KEY_NAME}
    action: notify
  - id: local_axfr
    address: 127.0.0.1
    action: transfer
template:
  - id: default
    storage: "{d}"
    {primary}: upstream
    acl: [from_upstream, local_axfr]
zone:
"#
        );
        for z in zones {
            conf.push_str(&format!("  - domain: {z}\n"));
        }
        Knot::spawn(dir, port, path, &["-c"], "knot.conf", &conf, "knotd", "knot.log")
    }
}
