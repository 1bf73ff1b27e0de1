//! The serving rows: each server, alone, as a secondary of the big zone with
//! one worker and pinned to CPU 0, answers dnsperf (pinned to CPU 1) for three
//! query mixes made from the zone's own names: (a) existing names with their
//! types, (b) NXDOMAIN, (c) DO queries on a signed zone (a smaller one: signing
//! 1M records takes minutes). Then its memory serving the big zone (RSS 1 s
//! after the query load, and the peak during it), and restarts with the zone
//! loaded until it answers the zone's SOA over UDP.
//!
//! Before dnsperf runs, the answers to the first queries of each file are
//! compared with the primary's (rcode, AA, the answer section without TTLs,
//! the SOA of an NXDOMAIN): a server that answers wrongly is flagged, and one
//! whose dnsperf answers mostly carry another rcode than the mix expects gets
//! no qps at all.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use secondaryd::wire::{rcode, rtype, Message, Name};

use crate::report::{Col, Target, Unit, PEERS};
use crate::servers::{Kind, Server};
use crate::util::R;
use crate::zones::{self, Mix};
use crate::{big_zone, count_label, dns, mem, perf, size_label, wait_idle, wait_serial, Bench, MIB};

/// Queries in each query file; dnsperf goes round it.
const QUERY_LINES: usize = 200_000;

/// Queries of each file whose answers are compared with the primary's.
const CHECKED: usize = 30;

/// An answer that is not the expected rcode this often fails the row.
const MIN_RCODE_SHARE: f64 = 0.99;

/// The qps rows' target: at least the best of these.
const QPS_PEERS: &[Kind] = &[Kind::Knot, Kind::Nsd];

/// The rows of one query mix.
#[derive(Clone, Copy)]
struct MixRows {
    qps: usize,
    p99: usize,
    per_cpu: usize,
}

/// One mix as run: its file and rows.
struct Load {
    mix: Mix,
    zone: String,
    file: PathBuf,
    rows: MixRows,
}

/// Where each side runs.
#[derive(Clone, Copy)]
struct Pins {
    server: Option<usize>,
    client: Option<usize>,
}

fn qtype_of(t: &str) -> Option<u16> {
    match t {
        "A" => Some(rtype::A),
        "AAAA" => Some(rtype::AAAA),
        "TXT" => Some(rtype::TXT),
        "MX" => Some(rtype::MX),
        "SOA" => Some(rtype::SOA),
        _ => None,
    }
}

fn rcode_name(c: u16) -> String {
    match c {
        rcode::NOERROR => "NOERROR".into(),
        rcode::SERVFAIL => "SERVFAIL".into(),
        rcode::NXDOMAIN => "NXDOMAIN".into(),
        rcode::REFUSED => "REFUSED".into(),
        rcode::NOTAUTH => "NOTAUTH".into(),
        c => format!("rcode {c}"),
    }
}

/// The answer section as a set, TTLs left out.
fn answer_set(m: &Message) -> BTreeSet<(Vec<u8>, u16, Vec<u8>)> {
    m.answers.iter().map(|r| (r.owner.to_lowercase().as_wire().to_vec(), r.rtype, r.rdata.clone())).collect()
}

/// Compares the server's answers to the first [`CHECKED`] queries of `file`
/// with the primary's; how many were compared.
async fn check_answers(primary: SocketAddr, server: SocketAddr, file: &Path, dnssec_ok: bool) -> R<usize> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("read {}: {e}", file.display()))?;
    let mut bad = Vec::new();
    let mut asked = 0;
    for line in text.lines().take(CHECKED) {
        let Some((name, ty)) = line.split_once(' ') else { continue };
        let (Ok(qname), Some(qtype)) = (Name::from_ascii(name), qtype_of(ty)) else { continue };
        asked += 1;
        let want = dns::query(primary, &qname, qtype, dnssec_ok).await.ok_or("the primary does not answer")?;
        let Some(got) = dns::query(server, &qname, qtype, dnssec_ok).await else {
            bad.push(format!("{line}: no answer"));
            continue;
        };
        let (g, w) = (got.header.rcode(), want.header.rcode());
        if g != w {
            bad.push(format!("{line}: {}, the primary {}", rcode_name(g), rcode_name(w)));
        } else if !got.header.aa() {
            bad.push(format!("{line}: AA not set"));
        } else if got.header.tc() {
            bad.push(format!("{line}: truncated"));
        } else if answer_set(&got) != answer_set(&want) {
            bad.push(format!("{line}: {} answer records, not the primary's {}", got.answers.len(), want.answers.len()));
        } else if g == rcode::NXDOMAIN && !got.authority.iter().any(|r| r.rtype == rtype::SOA) {
            bad.push(format!("{line}: NXDOMAIN without the zone's SOA"));
        } else if dnssec_ok && got.opt.is_none() {
            bad.push(format!("{line}: no OPT in the answer to a DO query"));
        }
    }
    if asked == 0 {
        return Err(format!("no query to check in {}", file.display()));
    }
    if bad.is_empty() {
        return Ok(asked);
    }
    let n = bad.len();
    bad.truncate(3);
    Err(format!("{n} of {asked} answers checked differ from the primary's: {}", bad.join("; ")))
}

impl Bench {
    /// The serving rows for the big zone of `n` records and, when it could be
    /// made, the signed zone `signed`.
    pub(crate) async fn serving(&mut self, n: usize, signed: Option<&str>) {
        let size = size_label(n);
        let zone = big_zone(n);
        let cpus = std::thread::available_parallelism().map(|c| c.get()).unwrap_or(1);
        let pins = if cpus >= 2 {
            Pins { server: Some(0), client: Some(1) }
        } else {
            say!("serving: one CPU, so neither the servers nor dnsperf are pinned");
            self.notes.push("Serving rows: one CPU, so neither the servers nor dnsperf were pinned (taskset).".into());
            Pins { server: None, client: None }
        };
        let qdir = self.base.join("queries");
        if let Err(e) = std::fs::create_dir_all(&qdir) {
            say!("serving: {e}");
            return;
        }
        let ssize = size_label(self.o.signed);
        let mut loads = Vec::new();
        for mix in Mix::ALL {
            let (z, records, what) = match mix {
                Mix::Existing => {
                    (zone.clone(), n, format!("serving {size}, 1 worker: (a) existing names (A, AAAA, TXT, MX)"))
                }
                Mix::Nxdomain => {
                    (zone.clone(), n, format!("serving {size}, 1 worker: (b) NXDOMAIN (random names under the zone)"))
                }
                Mix::Signed => {
                    let Some(z) = signed else { continue };
                    let not =
                        if self.o.signed < n { format!("; not {size}: signing takes long") } else { String::new() };
                    (
                        z.to_string(),
                        self.o.signed,
                        format!("serving {ssize} signed (NSEC{not}), 1 worker: (c) DO queries for existing names"),
                    )
                }
            };
            let file = qdir.join(format!("{}-{}.txt", mix.letter(), z));
            if let Err(e) = zones::write_queries(&file, &z, records, mix, QUERY_LINES) {
                say!("serving: write {}: {e}", file.display());
                return;
            }
            let target = Target::RatioAtLeast(1.0, QPS_PEERS);
            let rows = MixRows {
                qps: self.row(format!("{what}: queries per second"), Unit::Rate, target),
                p99: self.row(
                    format!("serving {}: ({}) latency p99 at that load", size_of(mix, &size, &ssize), mix.letter()),
                    Unit::Time,
                    Target::None,
                ),
                per_cpu: self.row(
                    format!(
                        "serving {}: ({}) answers per CPU-second of the server",
                        size_of(mix, &size, &ssize),
                        mix.letter()
                    ),
                    Unit::Rate,
                    Target::None,
                ),
            };
            loads.push(Load { mix, zone: z, file, rows });
        }
        let r_rss = self.row(
            format!("serving {size}: RSS 1 s after the query load"),
            Unit::Bytes,
            Target::RatioAtMost(0.5, PEERS),
        );
        let r_peak = self.row(format!("serving {size}: peak RSS during the query load"), Unit::Bytes, Target::None);
        let r_restart = self.row(
            format!("{size} zone: restart with it loaded → answering its serial (1 worker, CPU 0)"),
            Unit::Time,
            Target::RatioAtMost(1.0, PEERS),
        );
        let r_axfr = self.row(
            format!("{size} zone: AXFR out, `dig axfr` from the server (1 worker, CPU 0) → its closing SOA"),
            Unit::Time,
            Target::RatioAtMost(1.0, PEERS),
        );
        let r_axfr_peak =
            self.row(format!("{size} zone: peak RSS of the server during the AXFR out"), Unit::Bytes, Target::None);
        self.notes.push(format!(
            "Serving rows: each server alone, one worker (secondaryd `[dns] workers = 1`, `named -n 1`, Knot \
             `udp-workers`/`tcp-workers`/`background-workers: 1`, NSD `server-count: 1`){}; {} `-s 127.0.0.1 -p PORT \
             -d FILE -l {} -c {} -q {} -t 2 -v` (`-D` for DO), after a warm-up run, mixes in turn, {} runs each. \
             Each query file has {} queries in a random order from the zone's names. The p99 is the nearest rank of \
             the per-query latencies that `-v` prints (dnsperf 2.x prints only average, min, max and stddev), at \
             saturating load, so it is mostly the time queries queue. Answers per CPU-second: answered queries \
             over the CPU time (user + system, all threads and processes) the server used during the run; with \
             dnsperf on one CPU the load generator can be the limit, and this row still tells the servers apart. \
             The restarts are of the same servers, with the same worker and CPU settings.",
            if pins.server.is_some() { ", pinned to CPU 0 (`taskset -c 0`); dnsperf on CPU 1" } else { "" },
            perf::version(),
            self.o.qps_secs,
            perf::CLIENTS,
            perf::OUTSTANDING,
            self.o.reps,
            count_label(QUERY_LINES),
        ));
        for kind in self.kinds.clone() {
            let col = Col::Server(kind);
            say!("serving {zone}: {}", kind.label());
            let big: Vec<(Mix, PathBuf, MixRows)> =
                loads.iter().filter(|l| l.mix != Mix::Signed).map(|l| (l.mix, l.file.clone(), l.rows)).collect();
            if let Err(e) =
                self.serve_big(kind, &zone, &big, pins, (r_rss, r_peak, r_restart, r_axfr, r_axfr_peak)).await
            {
                say!("  failed: {e}");
                if let Some((_, _, rows)) = big.first() {
                    self.rows[rows.qps].fail(col, e);
                }
            }
            if let Some(l) = loads.iter().find(|l| l.mix == Mix::Signed) {
                let (z, file, rows) = (l.zone.clone(), l.file.clone(), l.rows);
                say!("serving {z}: {}", kind.label());
                if let Err(e) = self.serve_signed(kind, &z, &file, rows, pins).await {
                    say!("  failed: {e}");
                    self.rows[rows.qps].fail(col, e);
                }
            }
        }
    }

    /// A server of `zone` with one worker, pinned, started and answering the
    /// primary's serial.
    async fn serving_server(&mut self, kind: Kind, zone: &str, what: &str, pins: Pins) -> R<(Server, u32)> {
        let serial = self.primary.serial(zone).await.ok_or("the primary does not answer")?;
        let dir = self.server_dir(kind, what);
        let mut s = Server::new(kind, &dir, self.primary.addr(), vec![zone.to_string()])?;
        s.tune(true, pins.server)?;
        let t0 = Instant::now();
        s.start().await?;
        wait_serial(&mut s, zone, serial, t0, Duration::from_secs(900)).await?;
        say!("  {zone} answered after {:.2} s", t0.elapsed().as_secs_f64());
        wait_idle(&s).await;
        Ok((s, serial))
    }

    /// The first answers compared with the primary's: a difference fails the
    /// qps row (loudly), the runs go on.
    async fn check(&mut self, s: &Server, mix: Mix, file: &Path, rows: MixRows) {
        match check_answers(self.primary.addr(), s.addr(), file, mix.dnssec_ok()).await {
            Ok(n) => say!("  ({}) the answers to {n} queries are the primary's", mix.letter()),
            Err(e) => {
                say!("  !! ({}) {e}", mix.letter());
                self.rows[rows.qps].fail(Col::Server(s.kind), format!("wrong answers: {e}"));
            }
        }
    }

    fn warm_up(&self, s: &Server, mix: Mix, file: &Path, pins: Pins) {
        let secs = (self.o.qps_secs / 2.0).min(2.0);
        let _ = perf::run(s.port, file, secs, mix.dnssec_ok(), pins.client, &self.base.join("dnsperf.out"));
    }

    /// One dnsperf run into the mix's rows.
    fn perf_once(&mut self, s: &Server, mix: Mix, file: &Path, rows: MixRows, pins: Pins) {
        let col = Col::Server(s.kind);
        let Some(pid) = s.pid() else { return };
        let c0 = mem::cpu_seconds(pid);
        let t0 = Instant::now();
        let run =
            perf::run(s.port, file, self.o.qps_secs, mix.dnssec_ok(), pins.client, &self.base.join("dnsperf.out"));
        let wall = t0.elapsed().as_secs_f64();
        let cpu = mem::cpu_seconds(pid) - c0;
        let r = match run {
            Ok(r) => r,
            Err(e) => {
                say!("  ({}) failed: {e}", mix.letter());
                self.rows[rows.qps].fail(col, e);
                return;
            }
        };
        let share = r.share(mix.rcode());
        if r.completed == 0 || share < MIN_RCODE_SHARE {
            let e = format!(
                "only {:.1}% of {} answers were {} (dnsperf: `Response codes: {}`): the server is not serving \
                 the zone as it should; no qps reported",
                share * 100.0,
                r.completed,
                mix.rcode(),
                r.rcodes_line
            );
            say!("  !! ({}) {e}", mix.letter());
            self.rows[rows.qps].fail(col, e);
            return;
        }
        say!(
            "  ({}) {:.0} q/s, p50 {:.3} ms, p99 {:.3} ms, server CPU {:.0}%, lost {} of {}, answers {:.0} bytes",
            mix.letter(),
            r.qps,
            r.p50.unwrap_or(f64::NAN) * 1e3,
            r.p99.unwrap_or(f64::NAN) * 1e3,
            100.0 * cpu / wall,
            r.lost,
            r.sent,
            r.response_size
        );
        self.rows[rows.qps].push(col, r.qps);
        if let Some(p99) = r.p99 {
            self.rows[rows.p99].push(col, p99);
        }
        if cpu > 0.0 {
            self.rows[rows.per_cpu].push(col, r.completed as f64 / cpu);
        }
        if r.lost as f64 > 0.001 * r.sent as f64 {
            self.notes.push(format!(
                "{}, serving ({}): {} of {} queries lost (no answer within 2 s).",
                s.kind.label(),
                mix.letter(),
                r.lost,
                r.sent
            ));
        }
    }

    async fn serve_big(
        &mut self,
        kind: Kind,
        zone: &str,
        loads: &[(Mix, PathBuf, MixRows)],
        pins: Pins,
        (r_rss, r_peak, r_restart, r_axfr, r_axfr_peak): (usize, usize, usize, usize, usize),
    ) -> R<()> {
        let col = Col::Server(kind);
        let (mut s, serial) = self.serving_server(kind, zone, "serve", pins).await?;
        for (mix, file, rows) in loads {
            self.check(&s, *mix, file, *rows).await;
        }
        let pid = s.pid().ok_or("no process")?;
        if let Some((mix, file, _)) = loads.first() {
            self.warm_up(&s, *mix, file, pins);
        }
        mem::reset_peak(pid);
        let sampler = mem::Sampler::start(pid, kind.multi_process());
        for _ in 0..self.o.reps {
            for (mix, file, rows) in loads {
                self.perf_once(&s, *mix, file, *rows, pins);
            }
        }
        let peak = sampler.finish();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rss = mem::rss(pid, kind.multi_process());
        say!("  RSS {:.0} MiB 1 s after the load, peak {:.0} MiB during it", rss as f64 / MIB, peak as f64 / MIB);
        self.rows[r_rss].push(col, rss as f64);
        self.rows[r_peak].push(col, peak as f64);

        // AXFR out of the loaded zone, as a downstream asks for it.
        for rep in 0..self.o.reps {
            wait_idle(&s).await;
            mem::reset_peak(pid);
            let sampler = mem::Sampler::start(pid, kind.multi_process());
            let (port, z) = (s.port, zone.to_string());
            let took = tokio::task::spawn_blocking(move || crate::util::dig_axfr(port, &z))
                .await
                .map_err(|e| format!("dig task: {e}"))?;
            let peak = sampler.finish();
            match took {
                Ok(t) => {
                    say!(
                        "  AXFR out {}/{}: {:.3} s, peak {:.0} MiB",
                        rep + 1,
                        self.o.reps,
                        t.as_secs_f64(),
                        peak as f64 / MIB
                    );
                    self.rows[r_axfr].push(col, t.as_secs_f64());
                    self.rows[r_axfr_peak].push(col, peak as f64);
                }
                Err(e) => {
                    say!("  AXFR out failed: {e}");
                    self.rows[r_axfr].fail(col, e);
                    break;
                }
            }
        }

        for rep in 0..self.o.reps {
            wait_idle(&s).await;
            s.stop()?;
            let t0 = Instant::now();
            s.start().await?;
            match wait_serial(&mut s, zone, serial, t0, Duration::from_secs(600)).await {
                Ok(t) => {
                    say!("  restart {}/{}: answering in {:.3} s", rep + 1, self.o.reps, t.as_secs_f64());
                    self.rows[r_restart].push(col, t.as_secs_f64());
                }
                Err(e) => {
                    say!("  restart failed: {e}");
                    self.rows[r_restart].fail(col, e);
                    break;
                }
            }
        }
        s.discard();
        Ok(())
    }

    async fn serve_signed(&mut self, kind: Kind, zone: &str, file: &Path, rows: MixRows, pins: Pins) -> R<()> {
        let (s, _) = self.serving_server(kind, zone, "serve-signed", pins).await?;
        self.check(&s, Mix::Signed, file, rows).await;
        self.warm_up(&s, Mix::Signed, file, pins);
        for _ in 0..self.o.reps {
            self.perf_once(&s, Mix::Signed, file, rows, pins);
        }
        s.discard();
        Ok(())
    }
}

fn size_of(mix: Mix, size: &str, signed: &str) -> String {
    if mix == Mix::Signed {
        format!("{signed} signed")
    } else {
        size.to_string()
    }
}
