//! A name server process the tests started (a BIND or Knot secondary), on its
//! own loopback port and directory: its log, the serial it serves, `dig axfr`
//! of its copy; killed when dropped.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct LocalServer {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Child,
    /// For messages: "the BIND secondary", "knotd".
    what: &'static str,
    log_file: &'static str,
}

impl LocalServer {
    /// Writes `config` to `dir`/`config_file` and runs `program` with `args`
    /// and the config's path last, its stderr in `dir`/`log_file`.
    #[allow(clippy::too_many_arguments)]
    pub fn spawn(
        dir: tempfile::TempDir,
        port: u16,
        program: &std::path::Path,
        args: &[&str],
        config_file: &str,
        config: &str,
        what: &'static str,
        log_file: &'static str,
    ) -> Self {
        let conf_path = dir.path().join(config_file);
        std::fs::write(&conf_path, config).unwrap_or_else(|e| panic!("write {config_file}: {e}"));
        let log = std::fs::File::create(dir.path().join(log_file)).unwrap_or_else(|e| panic!("{log_file}: {e}"));
        let child = Command::new(program)
            .args(args)
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {what}: {e}"));
        LocalServer { dir, port, child, what, log_file }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join(self.log_file)).unwrap_or_default()
    }

    /// The SOA serial it serves for `zone`, if it answers.
    pub async fn serial(&self, zone: &str) -> Option<u32> {
        let name = secondaryd::wire::Name::from_ascii(zone).ok()?;
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        secondaryd::xfr::client::query_soa(addr, &name, None, Duration::from_millis(500)).await.ok().map(|s| s.serial)
    }

    /// Waits until it serves `serial` of `zone`; fails the test with its log
    /// after `limit`.
    pub async fn wait_serial(&mut self, zone: &str, serial: u32, limit: Duration) -> Duration {
        let started = Instant::now();
        loop {
            if self.serial(zone).await == Some(serial) {
                return started.elapsed();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited with {status}; log:\n{}", self.what, self.log());
            }
            assert!(
                started.elapsed() < limit,
                "{} did not serve serial {serial} of {zone} within {limit:?}; log:\n{}",
                self.what,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// `dig axfr` of a zone from it.
    pub fn dig_axfr(&self, zone: &str) -> String {
        let out = Command::new(super::bind::tool("dig"))
            .args(["+nocmd", "+nostats", "+nocomments", "+noquestion", "axfr", zone, "@127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .output()
            .expect("run dig");
        assert!(out.status.success(), "dig axfr failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
