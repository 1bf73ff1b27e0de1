//! Small things the parts share.

use std::net::{TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant, SystemTime};

pub type R<T> = Result<T, String>;

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

/// The `options` lines every `named` of the benchmark shares (primary and
/// secondary): its own directory, loopback only, no recursion, no NOTIFY.
pub fn named_base_options(dir: &std::path::Path, port: u16) -> String {
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
    notify no;
"#
    )
}

/// A program from PATH or the usual sbin directories.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    dirs.extend(["/usr/sbin", "/usr/bin", "/sbin", "/usr/local/sbin", "/usr/local/bin"].iter().map(PathBuf::from));
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

pub fn tool(name: &str) -> R<PathBuf> {
    find_tool(name).ok_or_else(|| format!("`{name}` is not installed"))
}

/// The first line a program prints for `arg` (its version).
pub fn version_of(name: &str, arg: &str) -> Option<String> {
    let out = Command::new(find_tool(name)?).arg(arg).output().ok()?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    text.lines().next().map(|l| l.trim().to_string())
}

/// Sends SIG`sig` (`TERM`, `HUP`, `KILL`, …) to `pid`, without the `kill` program.
pub fn signal(pid: u32, sig: &str) {
    let Ok(sig) = format!("SIG{sig}").parse::<nix::sys::signal::Signal>() else { return };
    if let Ok(pid) = i32::try_from(pid) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
    }
}

/// SIGTERM, then SIGKILL after `grace`; reaps the child.
pub fn kill_and_wait(mut child: Child, grace: Duration) -> bool {
    signal(child.id(), "TERM");
    wait_or_kill(&mut child, grace)
}

/// Waits for `child` to exit; SIGKILL after `grace`. True when it exited by itself.
pub fn wait_or_kill(child: &mut Child, grace: Duration) -> bool {
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DDTHH-MM-SSZ` of a time (UTC), for file names and headers.
pub fn utc_stamp(t: SystemTime, sep: char) -> String {
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}{sep}{:02}{sep}{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// `dig axfr ZONE @127.0.0.1 -p PORT` to /dev/null: how long receiving the
/// whole zone takes, and whether it ended with the closing SOA (dig says
/// "Transfer failed" otherwise, exit 0 or not).
pub fn dig_axfr(port: u16, zone: &str) -> R<std::time::Duration> {
    let started = std::time::Instant::now();
    let out = std::process::Command::new(tool("dig")?)
        .args(["+nostats", "axfr", zone, "@127.0.0.1", "-p", &port.to_string()])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("run dig: {e}"))?;
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || text.contains("Transfer failed") {
        return Err(format!("dig axfr {zone} from port {port} failed: {}", text.lines().last().unwrap_or("")));
    }
    Ok(took)
}
