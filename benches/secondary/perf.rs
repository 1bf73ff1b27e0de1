//! `dnsperf` runs of the serving rows: queries from a file to one server on
//! 127.0.0.1 for a fixed time, dnsperf itself pinned to a CPU of its own.
//!
//! dnsperf 2.x prints the queries per second, the response codes and the
//! average/min/max latency; the p99 comes from its `-v` output, one line per
//! answer (`> NOERROR r1.big1m.bench AAAA 0.000139`), written to a file and
//! read after the run. Timed-out queries (`> T …`) have no latency: they are
//! counted as lost.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::util::{find_tool, R};

/// Outstanding queries (`-q`) and clients (`-c`, one socket each).
pub const OUTSTANDING: usize = 100;
pub const CLIENTS: usize = 4;

/// `dnsperf`, or why the serving rows are skipped.
pub fn tool() -> Result<PathBuf, String> {
    find_tool("dnsperf")
        .ok_or_else(|| "`dnsperf` not found: the serving rows are skipped (apt-get install -y dnsperf)".into())
}

/// `dnsperf 2.10.0`.
pub fn version() -> String {
    let Some(p) = find_tool("dnsperf") else { return "?".into() };
    let out = Command::new(p).arg("-h").output().ok();
    let text = out.map(|o| format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)));
    text.and_then(|t| t.lines().find_map(|l| l.strip_prefix("Version ").map(|v| format!("dnsperf {}", v.trim()))))
        .unwrap_or_else(|| "dnsperf ?".into())
}

/// What one run measured.
#[derive(Debug)]
pub struct Run {
    pub sent: u64,
    pub completed: u64,
    pub lost: u64,
    pub qps: f64,
    /// Seconds, by nearest rank over the answered queries.
    pub p50: Option<f64>,
    pub p99: Option<f64>,
    /// `(rcode, count)` from the "Response codes" line.
    pub rcodes: Vec<(String, u64)>,
    /// The "Response codes" line as dnsperf printed it.
    pub rcodes_line: String,
    /// The average answer, in bytes.
    pub response_size: f64,
}

impl Run {
    /// The share of the answered queries that got `rcode`.
    pub fn share(&self, rcode: &str) -> f64 {
        let n = self.rcodes.iter().find(|(r, _)| r == rcode).map_or(0, |&(_, n)| n);
        if self.completed == 0 {
            0.0
        } else {
            n as f64 / self.completed as f64
        }
    }
}

/// Runs dnsperf against 127.0.0.1:`port` with the queries of `file` for
/// `secs` seconds (`-D` when `dnssec_ok`), pinned to `cpu`; `scratch` holds
/// the per-query output while it runs.
pub fn run(port: u16, file: &Path, secs: f64, dnssec_ok: bool, cpu: Option<usize>, scratch: &Path) -> R<Run> {
    let dnsperf = tool()?;
    let mut cmd = match cpu {
        Some(c) => {
            let mut cmd = Command::new(crate::util::tool("taskset")?);
            cmd.arg("-c").arg(c.to_string()).arg(&dnsperf);
            cmd
        }
        None => Command::new(&dnsperf),
    };
    cmd.args(["-s", "127.0.0.1", "-p", &port.to_string(), "-d"]).arg(file).args([
        "-l",
        &format!("{secs}"),
        "-c",
        &CLIENTS.to_string(),
        "-q",
        &OUTSTANDING.to_string(),
        "-t",
        "2",
        "-v",
    ]);
    if dnssec_ok {
        cmd.arg("-D");
    }
    let out = std::fs::File::create(scratch).map_err(|e| format!("create {}: {e}", scratch.display()))?;
    let res =
        cmd.stdin(Stdio::null()).stdout(out).stderr(Stdio::piped()).output().map_err(|e| format!("run dnsperf: {e}"));
    let parsed = res.and_then(|o| {
        if !o.status.success() {
            return Err(format!("dnsperf failed ({}): {}", o.status, String::from_utf8_lossy(&o.stderr).trim()));
        }
        parse(scratch)
    });
    let _ = std::fs::remove_file(scratch);
    parsed
}

fn number(line: &str, key: &str) -> Option<f64> {
    line.trim().strip_prefix(key)?.split_whitespace().next()?.parse().ok()
}

fn parse(path: &Path) -> R<Run> {
    let f = std::fs::File::open(path).map_err(|e| format!("open {}: {e}", path.display()))?;
    let mut lat: Vec<f64> = Vec::new();
    let mut run = Run {
        sent: 0,
        completed: 0,
        lost: 0,
        qps: f64::NAN,
        p50: None,
        p99: None,
        rcodes: Vec::new(),
        rcodes_line: String::new(),
        response_size: f64::NAN,
    };
    for line in std::io::BufReader::with_capacity(1 << 20, f).lines() {
        let line = line.map_err(|e| e.to_string())?;
        if let Some(rest) = line.strip_prefix("> ") {
            // `RCODE name type latency`; `T name type` for a timeout.
            if let Some(l) = rest.rsplit(' ').next().and_then(|x| x.parse::<f64>().ok()) {
                if !rest.starts_with("T ") && !rest.starts_with("I ") {
                    lat.push(l);
                }
            }
            continue;
        }
        let t = line.trim();
        if let Some(v) = number(t, "Queries sent:") {
            run.sent = v as u64;
        } else if let Some(v) = number(t, "Queries completed:") {
            run.completed = v as u64;
        } else if let Some(v) = number(t, "Queries lost:") {
            run.lost = v as u64;
        } else if let Some(v) = number(t, "Queries per second:") {
            run.qps = v;
        } else if let Some(sizes) = t.strip_prefix("Average packet size:") {
            // `request 29, response 79`
            run.response_size = sizes.rsplit(' ').next().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
        } else if let Some(codes) = t.strip_prefix("Response codes:") {
            run.rcodes_line = codes.trim().to_string();
            // `NOERROR 449 (50.17%), NXDOMAIN 446 (49.83%)`
            for part in codes.split(',') {
                let mut w = part.split_whitespace();
                if let (Some(code), Some(n)) = (w.next(), w.next().and_then(|n| n.parse::<u64>().ok())) {
                    run.rcodes.push((code.to_string(), n));
                }
            }
        }
    }
    if run.qps.is_nan() {
        return Err("no \"Queries per second\" in dnsperf's output".into());
    }
    run.p50 = crate::report::quantile(&lat, 0.5);
    run.p99 = crate::report::quantile(&lat, 0.99);
    Ok(run)
}
