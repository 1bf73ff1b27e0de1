//! The one BIND primary of a run: every zone of the run, on 127.0.0.1, open
//! transfers, dynamic updates from 127.0.0.1 (so changes are IXFR-able from
//! its journal), no NOTIFY of its own (the harness sends them, timed), a query
//! log (what the secondaries asked) and an xfer-out log with millisecond UTC
//! time stamps (when it finished sending).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use crate::dns;
use crate::util::{free_port, kill_and_wait, named_base_options, tool, R};

pub struct Primary {
    pub dir: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

/// A zone the primary serves: its name and whether it takes dynamic updates.
pub struct ZoneDef {
    pub name: String,
    pub dynamic: bool,
}

impl Primary {
    /// Starts `named` on the zone files `<dir>/<zone>.zone` and waits until it
    /// serves every zone.
    pub async fn start(dir: &Path, zones: &[ZoneDef]) -> R<Primary> {
        let port = free_port();
        let d = dir.display();
        let base = named_base_options(dir, port);
        let mut conf = format!(
            r#"options {{
{base}    allow-transfer {{ any; }};
    transfers-out 100;
    tcp-clients 1000;
    max-journal-size unlimited;
}};
controls {{ }};
logging {{
    channel general {{ file "{d}/named.log"; severity info; print-time iso8601-utc; }};
    channel queries {{ file "{d}/query.log"; severity info; print-time iso8601-utc; }};
    category default {{ general; }};
    category xfer-out {{ general; }};
    category queries {{ queries; }};
}};
"#
        );
        for z in zones {
            let update = if z.dynamic { " allow-update { 127.0.0.1; };" } else { "" };
            conf.push_str(&format!("zone \"{0}\" {{ type primary; file \"{0}.zone\";{update} }};\n", z.name));
        }
        std::fs::write(dir.join("named.conf"), conf).map_err(|e| format!("write named.conf: {e}"))?;
        let stderr = std::fs::File::create(dir.join("named.stderr")).map_err(|e| e.to_string())?;
        let child = Command::new(tool("named")?)
            .arg("-f")
            .arg("-c")
            .arg(dir.join("named.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("start named: {e}"))?;
        let mut p = Primary { dir: dir.to_path_buf(), port, child: Some(child) };
        let names: Vec<_> = zones.iter().map(|z| dns::name(&z.name)).collect();
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            if let Some(c) = p.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    return Err(format!("the BIND primary exited with {st}: {}", p.log_tail()));
                }
            }
            let serials = dns::soa_many(p.addr(), &names).await;
            if serials.iter().all(Option::is_some) {
                return Ok(p);
            }
            if Instant::now() > deadline {
                return Err(format!("the BIND primary did not load its zones in 300 s: {}", p.log_tail()));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The process id of `named`, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn log_tail(&self) -> String {
        let mut s = std::fs::read_to_string(self.dir.join("named.stderr")).unwrap_or_default();
        s.push_str(&std::fs::read_to_string(self.dir.join("named.log")).unwrap_or_default());
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    pub async fn serial(&self, zone: &str) -> Option<u32> {
        dns::soa(self.addr(), &dns::name(zone), Duration::from_secs(2)).await
    }

    /// Runs an `nsupdate` script, then waits until the primary serves a serial
    /// other than `before` and returns it.
    pub async fn update(&self, zone: &str, script: &str) -> R<u32> {
        let before = self.serial(zone).await;
        let mut child = Command::new(tool("nsupdate")?)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("run nsupdate: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write;
            stdin.write_all(script.as_bytes()).map_err(|e| format!("nsupdate stdin: {e}"))?;
        }
        let out = child.wait_with_output().map_err(|e| format!("nsupdate: {e}"))?;
        if !out.status.success() {
            return Err(format!("nsupdate failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let now = self.serial(zone).await;
            if now.is_some() && now != before {
                return now.ok_or_else(|| "no serial".into());
            }
            if Instant::now() > deadline {
                return Err(format!("the primary still serves serial {before:?} of {zone} after the update"));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// `dig axfr ZONE` to /dev/null: how long receiving the whole zone takes.
    pub fn dig_axfr(&self, zone: &str) -> R<Duration> {
        crate::util::dig_axfr(self.port, zone)
    }

    /// When the primary last finished sending a full transfer of `zone` that
    /// ended at or after `since` (its xfer-out log, millisecond stamps).
    pub fn axfr_ended(&self, zone: &str, since: SystemTime) -> Option<SystemTime> {
        let log = std::fs::read_to_string(self.dir.join("named.log")).ok()?;
        let needle = format!("transfer of '{zone}/IN': AXFR ended");
        log.lines()
            .filter(|l| l.contains(&needle))
            .filter_map(|l| parse_stamp(l.split_whitespace().next()?))
            .filter(|t| *t + Duration::from_millis(1) >= since)
            .max()
    }

    /// Bytes of the query log so far (to count what came after).
    pub fn query_log_len(&self) -> u64 {
        std::fs::metadata(self.dir.join("query.log")).map(|m| m.len()).unwrap_or(0)
    }

    /// SOA queries and transfer requests (AXFR, IXFR) in the query log after
    /// byte `from`, stamped within `[start, end)`.
    pub fn queries_between(&self, from: u64, start: SystemTime, end: SystemTime) -> (u64, u64) {
        let Ok(bytes) = std::fs::read(self.dir.join("query.log")) else { return (0, 0) };
        let text = String::from_utf8_lossy(bytes.get(from as usize..).unwrap_or_default());
        let (mut soa, mut xfr) = (0, 0);
        for l in text.lines() {
            let Some(t) = l.split_whitespace().next().and_then(parse_stamp) else { continue };
            if t < start || t >= end {
                continue;
            }
            if l.contains(" IN SOA ") {
                soa += 1;
            } else if l.contains(" IN AXFR ") || l.contains(" IN IXFR ") {
                xfr += 1;
            }
        }
        (soa, xfr)
    }

    pub fn stop(&mut self) {
        if let Some(c) = self.child.take() {
            kill_and_wait(c, Duration::from_secs(30));
        }
    }
}

impl Drop for Primary {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `2026-11-23T13:11:15.831Z` → a time.
pub fn parse_stamp(s: &str) -> Option<SystemTime> {
    let s = s.strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-').map(|x| x.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|x| x.parse::<u64>());
    let (hh, mm, ss) = (t.next()?.ok()?, t.next()?.ok()?, t.next()?.ok()?);
    let ms: u64 = format!("{frac:0<3}")[..3].parse().ok()?;
    let days = crate::util::days_from_civil(y, m, day);
    let secs = u64::try_from(days).ok()? * 86_400 + hh * 3600 + mm * 60 + ss;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(ms))
}
