//! Peak memory of a server's process tree, from /proc.
//!
//! For a single process the kernel's `VmHWM` (peak resident set) is exact. A
//! server made of several processes (NSD forks xfrd, its serving children and a
//! reload process that shares pages copy-on-write) is sampled every 50 ms: the
//! sum of the processes' `Pss` (shared pages counted once), and the largest
//! single `VmHWM`, whichever is larger.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// `root` and its live descendants (zombies left out: their memory is gone).
pub fn tree(root: u32) -> Vec<u32> {
    let mut parent_of: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
            // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else { continue };
            let mut f = rest.split_whitespace();
            let state = f.next().unwrap_or("Z");
            let ppid = f.next().and_then(|p| p.parse::<u32>().ok()).unwrap_or(0);
            if state != "Z" && state != "X" {
                parent_of.push((pid, ppid));
            }
        }
    }
    let mut out = Vec::new();
    if parent_of.iter().any(|&(p, _)| p == root) {
        out.push(root);
    }
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        out.extend(parent_of.iter().filter(|&&(_, pp)| pp == p).map(|&(c, _)| c));
        i += 1;
    }
    out
}

/// A `kB` field of /proc/PID/status (or smaps_rollup), in bytes.
fn field(pid: u32, file: &str, name: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
    let line = text.lines().find(|l| l.starts_with(name))?;
    line[name.len()..].split_whitespace().next()?.parse::<u64>().ok().map(|kb| kb * 1024)
}

pub fn hwm(pid: u32) -> Option<u64> {
    field(pid, "status", "VmHWM:")
}

/// Resets the peak RSS of every process of the tree (`echo 5 > clear_refs`).
pub fn reset_peak(root: u32) {
    for pid in tree(root) {
        let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
    }
}

/// Samples a process tree until [`Sampler::finish`].
pub struct Sampler {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<u64>,
}

impl Sampler {
    /// `multi`: the server runs several processes (sum their Pss).
    pub fn start(root: u32, multi: bool) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut peak = 0u64;
            loop {
                let done = flag.load(Ordering::Relaxed);
                let pids = tree(root);
                let mut pss = 0u64;
                for &pid in &pids {
                    peak = peak.max(hwm(pid).unwrap_or(0));
                    if multi {
                        pss += field(pid, "smaps_rollup", "Pss:").unwrap_or(0);
                    }
                }
                peak = peak.max(pss);
                if done {
                    return peak;
                }
                std::thread::sleep(Duration::from_millis(if multi { 50 } else { 100 }));
            }
        });
        Sampler { stop, handle }
    }

    /// The peak in bytes since [`Sampler::start`].
    pub fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or(0)
    }
}

/// Resident memory of the tree now: `VmRSS` of one process; for several
/// (`multi`), the larger of their summed `Pss` and the largest `VmRSS`.
pub fn rss(root: u32, multi: bool) -> u64 {
    let pids = tree(root);
    let largest = pids.iter().filter_map(|&p| field(p, "status", "VmRSS:")).max().unwrap_or(0);
    if !multi {
        return largest;
    }
    let pss: u64 = pids.iter().filter_map(|&p| field(p, "smaps_rollup", "Pss:")).sum();
    pss.max(largest)
}

/// CPU time (user + system, all threads) the tree has used so far, in seconds.
pub fn cpu_seconds(root: u32) -> f64 {
    let ticks: u64 = tree(root)
        .iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
        .filter_map(|st| {
            // Fields after `(comm)`: utime and stime are the 12th and 13th.
            let rest = st.rfind(')').map(|i| st[i + 2..].to_string())?;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .sum();
    ticks as f64 / clock_ticks()
}

/// `getconf CLK_TCK` (100 on Linux).
fn clock_ticks() -> f64 {
    static TCK: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TCK.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<f64>().ok())
            .filter(|&t| t > 0.0)
            .unwrap_or(100.0)
    })
}
