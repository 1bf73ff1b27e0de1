//! `cargo bench --bench secondary`: secondaryd side by side with BIND, Knot and
//! NSD as secondaries of one BIND primary on 127.0.0.1, same zones, same run
//! (issue 6). `-- --smoke` (or `SECONDARYD_BENCH_SMOKE=1`) runs tiny sizes in
//! seconds; `-- --help` lists the options. The README's "Benchmarks" section
//! says how to read the table.
//!
//! Every server runs alone while it is measured (the others are stopped), each
//! from its own directory; the harness itself is one thread (plus dnsperf, for
//! the serving rows).

mod api;
mod dns;
mod mem;
mod perf;
mod primary;
mod report;
mod servers;
mod util;
mod zones;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use primary::{Primary, ZoneDef};
use report::{Col, Row, Target, Unit};
use servers::{Kind, Server};
use util::R;

const USAGE: &str = "\
cargo bench --bench secondary [-- OPTIONS]

  --smoke            tiny sizes, one run per row: checks the command works (also SECONDARYD_BENCH_SMOKE=1)
  --reps N           runs per row (default 3)
  --servers LIST     comma-separated subset of secondaryd,bind,knot,nsd (default: all installed)
  --sizes A,B        records of the big zones (default 100000,1000000)
  --zones N          the many-zones rows (default 10000)
  --cold-reps N      cold loads of the many zones per server (default 1; the restarts get --reps)
  --changes N        NOTIFY latency changes per run (default 100)
  --window S         seconds after a restart in which queries are counted (default 10)
  --only LIST        comma-separated subset of the parts transfers,notify,many,serving,catalog (default: all;
                     `many` includes `catalog`, the many zones from a catalog alone);
                     `--only serving`: just the serving rows (dnsperf, memory serving, restart → answering)
  --qps-secs S       seconds of each dnsperf run (default 10; smoke 0.5)
  --signed N         records of the signed zone of the DO queries (default 100000; smoke 2000)
  --dir PATH         where the servers keep their state (default: a temp dir, removed at the end)
  --keep             leave every server's directory (config, log, state) in --dir for a look
  --out PATH         the results file (default benches/results/<UTC time>.md)";

/// The parts of a run, for `--only`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Transfers,
    Notify,
    Many,
    Serving,
    /// The many zones from a catalog only (also part of `many`).
    Catalog,
}

impl Part {
    const ALL: [Part; 4] = [Part::Transfers, Part::Notify, Part::Many, Part::Serving];

    fn parse(s: &str) -> Option<Part> {
        match s {
            "transfers" => Some(Part::Transfers),
            "notify" => Some(Part::Notify),
            "many" => Some(Part::Many),
            "serving" => Some(Part::Serving),
            "catalog" => Some(Part::Catalog),
            _ => None,
        }
    }
}

struct Opts {
    smoke: bool,
    parts: Vec<Part>,
    qps_secs: f64,
    signed: usize,
    reps: usize,
    cold_reps: usize,
    sizes: Vec<usize>,
    many: usize,
    changes: usize,
    window: Duration,
    kinds: Vec<Kind>,
    dir: Option<PathBuf>,
    out: Option<PathBuf>,
}

fn parse_args() -> Result<Opts, String> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = std::env::var("SECONDARYD_BENCH_SMOKE").is_ok_and(|v| !v.is_empty() && v != "0")
        || args.iter().any(|a| a == "--smoke");
    let mut o = if smoke {
        Opts {
            smoke,
            parts: Part::ALL.to_vec(),
            qps_secs: 0.5,
            signed: 2_000,
            reps: 1,
            cold_reps: 1,
            sizes: vec![2_000, 20_000],
            many: 50,
            changes: 5,
            window: Duration::from_secs(2),
            kinds: Kind::ALL.to_vec(),
            dir: None,
            out: None,
        }
    } else {
        Opts {
            smoke,
            parts: Part::ALL.to_vec(),
            qps_secs: 10.0,
            signed: 100_000,
            reps: 3,
            cold_reps: 1,
            sizes: vec![100_000, 1_000_000],
            many: 10_000,
            changes: 100,
            window: Duration::from_secs(10),
            kinds: Kind::ALL.to_vec(),
            dir: None,
            out: None,
        }
    };
    args.retain(|a| a != "--smoke" && a != "--bench");
    if args.iter().any(|a| a == "--keep") && !args.iter().any(|a| a == "--dir") {
        return Err("--keep needs --dir".into());
    }
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{a} needs a value"));
        let num = |s: String| s.parse::<usize>().map_err(|_| format!("not a number: {s}"));
        match a.as_str() {
            "--help" | "-h" => return Err(USAGE.into()),
            "--reps" => o.reps = num(val()?)?.max(1),
            "--cold-reps" => o.cold_reps = num(val()?)?.max(1),
            "--zones" => o.many = num(val()?)?,
            "--changes" => o.changes = num(val()?)?.max(1),
            "--window" => o.window = Duration::from_secs(num(val()?)? as u64),
            "--dir" => o.dir = Some(PathBuf::from(val()?)),
            "--keep" => servers::KEEP.store(true, std::sync::atomic::Ordering::Relaxed),
            "--out" => o.out = Some(PathBuf::from(val()?)),
            "--only" => {
                o.parts = val()?
                    .split(',')
                    .map(|s| Part::parse(s.trim()).ok_or_else(|| format!("unknown part `{s}` (--only)")))
                    .collect::<Result<_, _>>()?;
            }
            "--qps-secs" => {
                let v = val()?;
                o.qps_secs = v.parse::<f64>().ok().filter(|&x| x > 0.0).ok_or(format!("not a duration: {v}"))?;
            }
            "--signed" => o.signed = num(val()?)?.max(10),
            "--sizes" => {
                o.sizes = val()?.split(',').map(|s| num(s.trim().to_string())).collect::<Result<_, _>>()?;
                if o.sizes.iter().any(|&n| n < 10) {
                    return Err("--sizes: at least 10 records".into());
                }
            }
            "--servers" => {
                o.kinds = val()?
                    .split(',')
                    .map(|s| Kind::parse(s.trim()).ok_or_else(|| format!("unknown server `{s}`")))
                    .collect::<Result<_, _>>()?;
                o.kinds.sort();
                o.kinds.dedup();
            }
            other => return Err(format!("unknown argument `{other}`\n\n{USAGE}")),
        }
    }
    if o.many > 65_536 {
        return Err("--zones: at most 65536".into());
    }
    Ok(o)
}

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(opts)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("benchmark failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Progress on stderr; the table goes to stdout.
macro_rules! say {
    ($($t:tt)*) => { eprintln!("[bench {:>7.1}s] {}", crate::started().elapsed().as_secs_f64(), format!($($t)*)) };
}

// After `say!`, which it uses.
mod serving;

fn started() -> &'static Instant {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now)
}

fn size_label(n: usize) -> String {
    match n {
        n if n >= 1_000_000 && n.is_multiple_of(1_000_000) => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n.is_multiple_of(1_000) => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

fn count_label(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Records of the NOTIFY-latency zone and of each of the many zones.
const SMALL_RECORDS: usize = 20;

const MIB: f64 = 1024.0 * 1024.0;

struct Bench {
    o: Opts,
    base: PathBuf,
    primary: Primary,
    kinds: Vec<Kind>,
    rows: Vec<Row>,
    notes: Vec<String>,
    step: usize,
}

async fn run(o: Opts) -> R<()> {
    let _ = started();
    for t in ["named", "dig", "nsupdate"] {
        util::tool(t).map_err(|e| {
            format!(
                "{e}: the benchmark needs BIND as its primary (apt-get install -y bind9 bind9-utils bind9-dnsutils)"
            )
        })?;
    }
    let mut notes = Vec::new();
    let mut kinds = Vec::new();
    for &k in &o.kinds {
        match k.available() {
            Ok(()) => kinds.push(k),
            Err(e) => {
                say!("{}: {e}", k.label());
                notes.push(format!("{}: {e}.", k.label()));
            }
        }
    }
    let tmp;
    let base = match &o.dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| format!("create {}: {e}", d.display()))?;
            d.clone()
        }
        None => {
            tmp = tempfile::Builder::new().prefix("sdbench.").tempdir().map_err(|e| e.to_string())?;
            tmp.path().to_path_buf()
        }
    };

    // The serving rows need dnsperf, and the signed zone BIND's signing tools.
    let parts = o.parts.clone();
    let has = |p: Part| parts.contains(&p);
    let mut serving = has(Part::Serving);
    let mut signed = None;
    if serving {
        if let Err(e) = perf::tool() {
            say!("{e}");
            notes.push(format!("{e}."));
            serving = false;
        }
    }

    // The zones, all on the one primary (those the parts of the run use).
    let pdir = base.join("primary");
    std::fs::create_dir_all(&pdir).map_err(|e| e.to_string())?;
    let mut defs = Vec::new();
    let serve_size = o.sizes.iter().copied().max().unwrap_or(0);
    for &n in &o.sizes {
        let needed = has(Part::Transfers) || (serving && n == serve_size);
        if !needed {
            continue;
        }
        let zone = big_zone(n);
        say!("writing {zone}: {} records", count_label(n));
        zones::write_zone(&pdir.join(format!("{zone}.zone")), &zone, 1, n).map_err(|e| e.to_string())?;
        defs.push(ZoneDef { name: zone, dynamic: true });
    }
    if serving {
        let zone = signed_zone(o.signed);
        say!("writing and signing {zone}: {} records (dnssec-keygen, dnssec-signzone)", count_label(o.signed));
        let t = Instant::now();
        match zones::write_signed_zone(&pdir, &zone, o.signed) {
            Ok(()) => {
                say!("  signed in {:.1} s", t.elapsed().as_secs_f64());
                defs.push(ZoneDef { name: zone.clone(), dynamic: false });
                signed = Some(zone);
            }
            Err(e) => {
                say!("  {e}: the DO rows are skipped");
                notes.push(format!("Signing {zone} failed ({e}): the DO rows are skipped."));
            }
        }
    }
    zones::write_zone(&pdir.join("small.bench.zone"), "small.bench", 1, SMALL_RECORDS).map_err(|e| e.to_string())?;
    defs.push(ZoneDef { name: "small.bench".into(), dynamic: true });
    let many = if has(Part::Many) || has(Part::Catalog) { o.many } else { 0 };
    for i in 0..many {
        let z = many_zone(i);
        zones::write_zone(&pdir.join(format!("{z}.zone")), &z, 1, SMALL_RECORDS).map_err(|e| e.to_string())?;
        defs.push(ZoneDef { name: z, dynamic: false });
    }
    if many > 0 {
        // A catalog (RFC 9432 version 2) of the many zones.
        let mut text = format!(
            "$ORIGIN {CATALOG}.\n$TTL 0\n@ IN SOA invalid. invalid. 1 60 60 2147483646 0\n@ IN NS invalid.\nversion IN TXT \"2\"\n"
        );
        for i in 0..many {
            text.push_str(&format!("z{i}.zones IN PTR {}.\n", many_zone(i)));
        }
        std::fs::write(pdir.join(format!("{CATALOG}.zone")), text).map_err(|e| e.to_string())?;
        defs.push(ZoneDef { name: CATALOG.into(), dynamic: false });
    }
    say!("starting the BIND primary with {} zones", defs.len());
    let primary = Primary::start(&pdir, &defs).await?;
    say!("primary ready on {}", primary.addr());

    notes.push(
        "Each server is measured alone, at its defaults except for running on loopback from a temp dir; BIND as \
         secondary has `serial-query-rate 1000` (at the default 20, 10,000 zones take 500 s to bootstrap)."
            .into(),
    );
    if kinds.contains(&Kind::Nsd) {
        notes.push(
            "NSD runs with `rrl-ratelimit: 0`: Debian builds it with response rate limiting (200 answers a second \
             per /24 by default), which would throttle the harness's SOA polls and dnsperf, all from 127.0.0.1."
                .into(),
        );
    }
    let mut b = Bench { o, base, primary, kinds, rows: Vec::new(), notes, step: 0 };
    if has(Part::Transfers) {
        let sizes = b.o.sizes.clone();
        for &n in &sizes {
            b.full_transfers(n).await;
        }
    }
    if has(Part::Notify) {
        b.notify_latency().await;
        if b.kinds.contains(&Kind::Secondaryd) && Kind::Bind.available().is_ok() {
            b.fanout().await;
        }
    }
    if has(Part::Many) {
        b.many_zones().await;
    } else if has(Part::Catalog) {
        let names: Vec<String> = (0..many).map(many_zone).collect();
        b.many_by_catalog(&names).await;
    }
    if serving {
        b.serving(serve_size, signed.as_deref()).await;
    }
    b.primary.stop();
    b.report()
}

fn big_zone(n: usize) -> String {
    format!("big{}.bench", size_label(n).to_lowercase())
}

fn signed_zone(n: usize) -> String {
    format!("signed{}.bench", size_label(n).to_lowercase())
}

/// The primary's catalog of the many zones.
const CATALOG: &str = "catalog.bench";

fn many_zone(i: usize) -> String {
    format!("z{i}.many.bench")
}

/// Sleeps between polls: 0.2 ms at first (a change lands in 2–3 ms, so a
/// coarser poll would round every server's time up to the same few values),
/// then about 1% of the time waited so far, at most 10 ms.
fn poll_gap(since: Instant) -> Duration {
    (since.elapsed() / 100).clamp(Duration::from_micros(200), Duration::from_millis(10))
}

/// Sleeps `gap`, to the tenth of a millisecond: tokio's timer counts whole
/// milliseconds, so a shorter gap sleeps on a blocking thread.
async fn pause(gap: Duration) {
    if gap >= Duration::from_millis(2) {
        tokio::time::sleep(gap).await;
    } else {
        let _ = tokio::task::spawn_blocking(move || std::thread::sleep(gap)).await;
    }
}

async fn wait_serial(s: &mut Server, zone: &str, serial: u32, from: Instant, limit: Duration) -> R<Duration> {
    loop {
        if s.serial(zone).await? == Some(serial) {
            return Ok(from.elapsed());
        }
        if from.elapsed() > limit {
            return Err(format!("serial {serial} of {zone} not committed within {limit:?}: {}", s.log_tail(4)));
        }
        pause(poll_gap(from)).await;
    }
}

/// Waits until the process tree has used under 20 ms of CPU in 500 ms (the
/// server finished writing files and freeing memory), at most 60 s.
async fn wait_idle(s: &Server) {
    let Some(root) = s.pid() else { return };
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut before = mem::cpu_seconds(root);
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = mem::cpu_seconds(root);
        if now - before < 0.025 {
            return;
        }
        before = now;
    }
}

/// Waits until the server is idle and, for NSD, its last commit is 1.2 s old: NSD
/// throttles reloads to one a second (`xfrd-reload-timeout`), which would
/// otherwise delay the next step.
async fn settle(s: &Server, last_commit: Instant) {
    wait_idle(s).await;
    if s.kind != Kind::Nsd {
        return;
    }
    if let Some(left) = (last_commit + Duration::from_millis(1200)).checked_duration_since(Instant::now()) {
        tokio::time::sleep(left).await;
    }
}

/// Changes of the small zone come at least this far apart: one zone's changes
/// are rarely faster, and both secondaryd (`soa_queries_per_second` 20) and
/// BIND (`serial-query-rate`) space their SOA queries 50 ms apart at their
/// defaults.
const NOTIFY_PACE: Duration = Duration::from_millis(100);

/// IXFRs of 10 changes per full-transfer run (the row is their median).
const IXFR_CHANGES: usize = 5;

/// Measurements of one full-transfer run of one server.
struct Full {
    cold: Duration,
    tail: Option<Duration>,
    peak_cold: u64,
    retransfer: Duration,
    peak_retransfer: u64,
    ixfr: Duration,
    ixfr_note: Option<String>,
}

impl Bench {
    fn row(&mut self, label: String, unit: Unit, target: Target) -> usize {
        if let Some(i) = self.rows.iter().position(|r| r.label == label) {
            return i;
        }
        self.rows.push(Row::new(label, unit, target));
        self.rows.len() - 1
    }

    fn server_dir(&self, kind: Kind, what: &str) -> PathBuf {
        self.base.join(format!("{}-{what}", kind.label().to_lowercase()))
    }

    async fn full_transfers(&mut self, n: usize) {
        let size = size_label(n);
        let zone = big_zone(n);
        let is_1m = n >= 1_000_000;
        let (t_tail, t_rss) =
            if is_1m { (Target::Below(0.10), Target::Below(125.0 * MIB)) } else { (Target::None, Target::None) };
        let r_time = self.row(
            format!("{size} zone, full transfer: start with empty state → serial committed"),
            Unit::Time,
            Target::None,
        );
        let r_excess = self.row(
            format!("{size}: excess over the `dig axfr` floor (time − floor median)"),
            Unit::Time,
            Target::None,
        );
        let r_tail =
            self.row(format!("{size}: excess after the primary's last message (its xfer-out log)"), Unit::Time, t_tail);
        let r_rss = self.row(format!("{size}: peak RSS, cold transfer"), Unit::Bytes, t_rss);
        let r_re =
            self.row(format!("{size}: forced re-transfer of the loaded zone → committed"), Unit::Time, Target::None);
        let r_re_rss = self.row(format!("{size}: peak RSS during the re-transfer"), Unit::Bytes, Target::None);
        let r_ixfr = self.row(
            format!("{size}: IXFR of 10 changed records, NOTIFY → committed (median of {IXFR_CHANGES})"),
            Unit::Time,
            Target::AtMost(0.004),
        );
        let mut floors = Vec::new();
        let mut excess: Vec<(Kind, Duration)> = Vec::new();
        for rep in 0..self.o.reps {
            say!("{zone}: run {}/{}: dig axfr", rep + 1, self.o.reps);
            match self.primary.dig_axfr(&zone) {
                Ok(d) => {
                    floors.push(d.as_secs_f64());
                    self.rows[r_time].push(Col::Dig, d.as_secs_f64());
                }
                Err(e) => self.rows[r_time].fail(Col::Dig, e),
            }
            for kind in self.kinds.clone() {
                say!("{zone}: run {}/{}: {}", rep + 1, self.o.reps, kind.label());
                let col = Col::Server(kind);
                match self.full_once(kind, &zone, n, rep).await {
                    Ok(f) => {
                        say!(
                            "  cold {:.3} s, peak {:.0} MiB; re-transfer {:.3} s, peak {:.0} MiB; IXFR {:.1} ms",
                            f.cold.as_secs_f64(),
                            f.peak_cold as f64 / MIB,
                            f.retransfer.as_secs_f64(),
                            f.peak_retransfer as f64 / MIB,
                            f.ixfr.as_secs_f64() * 1e3
                        );
                        self.rows[r_time].push(col, f.cold.as_secs_f64());
                        excess.push((kind, f.cold));
                        match f.tail {
                            Some(t) => self.rows[r_tail].push(col, t.as_secs_f64()),
                            None => self.rows[r_tail].fail(col, "no AXFR end in the primary's log"),
                        }
                        self.rows[r_rss].push(col, f.peak_cold as f64);
                        self.rows[r_re].push(col, f.retransfer.as_secs_f64());
                        self.rows[r_re_rss].push(col, f.peak_retransfer as f64);
                        self.rows[r_ixfr].push(col, f.ixfr.as_secs_f64());
                        if let Some(note) = f.ixfr_note {
                            self.notes.push(format!("{}, {size} IXFR run {}: {note}", kind.label(), rep + 1));
                        }
                    }
                    Err(e) => {
                        say!("  failed: {e}");
                        self.rows[r_time].fail(col, e);
                    }
                }
            }
        }
        if let Some(floor) = report::median(&floors) {
            for (kind, t) in excess {
                self.rows[r_excess].push(Col::Server(kind), t.as_secs_f64() - floor);
            }
        }
        // A re-transfer must not double the peak of the cold transfer.
        if let Some(cold) = self.rows[r_rss].median(Col::Server(Kind::Secondaryd)) {
            if is_1m {
                self.rows[r_re_rss].target = Target::Below(2.0 * cold);
            }
        }
    }

    async fn full_once(&mut self, kind: Kind, zone: &str, n: usize, rep: usize) -> R<Full> {
        let serial = self.primary.serial(zone).await.ok_or("the primary does not answer")?;
        let dir = self.server_dir(kind, &format!("{zone}-{rep}"));
        let mut s = Server::new(kind, &dir, self.primary.addr(), vec![zone.to_string()])?;
        let limit = Duration::from_secs(900);

        // Cold: from the start of the process with empty state.
        let wall = SystemTime::now();
        let t0 = Instant::now();
        s.start().await?;
        let pid = s.pid().ok_or("no process")?;
        let sampler = mem::Sampler::start(pid, kind.multi_process());
        let cold = wait_serial(&mut s, zone, serial, t0, limit).await;
        let committed_at = SystemTime::now();
        let peak_cold = sampler.finish();
        let cold = cold?;
        let mut last_commit = Instant::now();
        // The primary logs the end of sending a moment after the last write.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let tail = self.primary.axfr_ended(zone, wall).map(|end| committed_at.duration_since(end).unwrap_or_default());

        // Forced re-transfer of the loaded zone.
        settle(&s, last_commit).await;
        mem::reset_peak(pid);
        let sampler = mem::Sampler::start(pid, kind.multi_process());
        let before = loop {
            match s.marker(zone).await {
                Err(e) if e == "busy" => tokio::time::sleep(Duration::from_millis(20)).await,
                other => break other?,
            }
        };
        let t1 = Instant::now();
        s.retransfer(zone).await?;
        let retransfer = loop {
            if s.committed_since(zone, &before).await? {
                break t1.elapsed();
            }
            if t1.elapsed() > limit {
                return Err(format!("re-transfer not committed within {limit:?}: {}", s.log_tail(4)));
            }
            pause(poll_gap(t1)).await;
        };
        let peak_retransfer = sampler.finish();
        last_commit = Instant::now();

        // IXFRs of 10 changes, announced by NOTIFY: the median of
        // IXFR_CHANGES (one is a single sample of a few milliseconds).
        let name = dns::name(zone);
        let mut times = Vec::new();
        let mut ixfr_note = None;
        for _ in 0..IXFR_CHANGES {
            settle(&s, last_commit).await;
            self.step += 1;
            let script = zones::change_script(self.primary.port, zone, n, self.step, 10);
            let new = self.primary.update(zone, &script).await?;
            let t2 = Instant::now();
            dns::notify(s.addr(), &name, new).await.map_err(|e| format!("NOTIFY: {e}"))?;
            times.push(wait_serial(&mut s, zone, new, t2, Duration::from_secs(120)).await?.as_secs_f64());
            last_commit = Instant::now();
            if kind == Kind::Secondaryd {
                let z = s.client().get(&format!("/v2/1/zones/{zone}")).await.map_err(|e| e.to_string())?;
                let t = &z.body["data"]["transfer"]["last_transfer"]["type"];
                if t != "IXFR" {
                    ixfr_note = Some(format!("the transfer was {t}, not IXFR"));
                }
            }
        }
        let ixfr = Duration::from_secs_f64(report::quantile(&times, 0.5).unwrap_or(0.0));
        s.discard();
        Ok(Full { cold, tail, peak_cold, retransfer, peak_retransfer, ixfr, ixfr_note })
    }

    async fn notify_latency(&mut self) {
        let changes = self.o.changes;
        let r50 = self.row(
            format!("small zone: NOTIFY → committed, p50 of {changes} changes"),
            Unit::Time,
            Target::Below(0.020),
        );
        let r99 =
            self.row(format!("small zone: NOTIFY → committed, p99 of {changes} changes"), Unit::Time, Target::None);
        for kind in self.kinds.clone() {
            let col = Col::Server(kind);
            say!("small.bench: NOTIFY latency: {}", kind.label());
            match self.notify_runs(kind).await {
                Ok(runs) => {
                    for lat in runs {
                        if let (Some(p50), Some(p99)) = (report::quantile(&lat, 0.5), report::quantile(&lat, 0.99)) {
                            say!("  p50 {:.2} ms, p99 {:.2} ms", p50 * 1e3, p99 * 1e3);
                            self.rows[r50].push(col, p50);
                            self.rows[r99].push(col, p99);
                        }
                    }
                }
                Err(e) => {
                    say!("  failed: {e}");
                    self.rows[r50].fail(col, e);
                }
            }
        }
    }

    async fn notify_runs(&mut self, kind: Kind) -> R<Vec<Vec<f64>>> {
        let zone = "small.bench";
        let dir = self.server_dir(kind, zone);
        let mut s = Server::new(kind, &dir, self.primary.addr(), vec![zone.to_string()])?;
        s.start().await?;
        let serial = self.primary.serial(zone).await.ok_or("the primary does not answer")?;
        wait_serial(&mut s, zone, serial, Instant::now(), Duration::from_secs(60)).await?;
        wait_idle(&s).await;
        let name = dns::name(zone);
        let mut runs = Vec::new();
        for _ in 0..self.o.reps {
            let mut lat = Vec::new();
            let mut last = Instant::now();
            for _ in 0..self.o.changes {
                if let Some(left) = (last + NOTIFY_PACE).checked_duration_since(Instant::now()) {
                    tokio::time::sleep(left).await;
                }
                self.step += 1;
                let script = zones::change_script(self.primary.port, zone, SMALL_RECORDS, self.step, 1);
                let new = self.primary.update(zone, &script).await?;
                let t0 = Instant::now();
                last = t0;
                dns::notify(s.addr(), &name, new).await.map_err(|e| format!("NOTIFY: {e}"))?;
                lat.push(wait_serial(&mut s, zone, new, t0, Duration::from_secs(60)).await?.as_secs_f64());
            }
            let p50 = report::quantile(&lat, 0.5).unwrap_or(0.0);
            runs.push(lat);
            if p50 > 0.5 && runs.len() < self.o.reps {
                self.notes.push(format!(
                    "{}: NOTIFY latency measured in {} run(s) of {} changes, not {}: a median above 0.5 s made \
                     more runs too long (NSD throttles reloads to one a second by default, \
                     `xfrd-reload-timeout: 1`, so a change within a second of the last reload waits).",
                    kind.label(),
                    runs.len(),
                    self.o.changes,
                    self.o.reps
                ));
                break;
            }
        }
        s.discard();
        Ok(runs)
    }

    /// One change at the primary → served by every one of several BIND
    /// secondaries of secondaryd (its NOTIFY out, their IXFR from it).
    async fn fanout(&mut self) {
        const DOWNSTREAMS: usize = 4;
        let changes = if self.o.smoke { 3 } else { 20 };
        let r = self.row(
            format!("fan-out: a change at the primary → served by all {DOWNSTREAMS} BIND secondaries of secondaryd, p50 of {changes}"),
            Unit::Time,
            Target::Below(0.050),
        );
        say!("small.bench: fan-out to {DOWNSTREAMS} BIND secondaries");
        let col = Col::Server(Kind::Secondaryd);
        match self.fanout_run(DOWNSTREAMS, changes).await {
            Ok(lat) => {
                if let Some(p50) = report::quantile(&lat, 0.5) {
                    say!("  p50 {:.2} ms, max {:.2} ms", p50 * 1e3, lat.iter().copied().fold(0.0, f64::max) * 1e3);
                    self.rows[r].push(col, p50);
                }
            }
            Err(e) => {
                say!("  failed: {e}");
                self.rows[r].fail(col, e);
            }
        }
        self.notes.push(format!(
            "Fan-out: secondaryd with {DOWNSTREAMS} `[[downstream]]` NOTIFY targets, each a BIND 9.18 `type secondary` \
             of secondaryd; the time from the NOTIFY to secondaryd until every BIND answers the new serial."
        ));
    }

    async fn fanout_run(&mut self, n: usize, changes: usize) -> R<Vec<f64>> {
        let zone = "small.bench";
        let mut sd = Server::new(
            Kind::Secondaryd,
            &self.server_dir(Kind::Secondaryd, "fanout"),
            self.primary.addr(),
            vec![zone.into()],
        )?;
        let mut downs = Vec::new();
        for i in 0..n {
            let dir = self.base.join(format!("fanout-bind{i}"));
            downs.push(Server::new(Kind::Bind, &dir, sd.addr(), vec![zone.into()])?);
        }
        let extra: String = downs
            .iter()
            .map(|d| format!("[[downstream]]\naddress = \"127.0.0.1\"\nnotify = \"127.0.0.1:{}\"\n", d.port))
            .collect();
        sd.set_extra(&extra)?;
        sd.start().await?;
        let serial = self.primary.serial(zone).await.ok_or("the primary does not answer")?;
        wait_serial(&mut sd, zone, serial, Instant::now(), Duration::from_secs(60)).await?;
        for d in &mut downs {
            d.start().await?;
            wait_serial(d, zone, serial, Instant::now(), Duration::from_secs(60)).await?;
        }
        let name = dns::name(zone);
        let mut lat = Vec::new();
        for _ in 0..changes {
            tokio::time::sleep(NOTIFY_PACE).await;
            self.step += 1;
            let script = zones::change_script(self.primary.port, zone, SMALL_RECORDS, self.step, 1);
            let new = self.primary.update(zone, &script).await?;
            let t0 = Instant::now();
            dns::notify(sd.addr(), &name, new).await.map_err(|e| format!("NOTIFY: {e}"))?;
            for d in &mut downs {
                wait_serial(d, zone, new, t0, Duration::from_secs(30)).await?;
            }
            lat.push(t0.elapsed().as_secs_f64());
        }
        for d in downs {
            d.discard();
        }
        sd.discard();
        Ok(lat)
    }

    async fn many_zones(&mut self) {
        let n = self.o.many;
        let label = count_label(n);
        let window = self.o.window.as_secs();
        let r_api = self.row(
            format!("{label} small zones: the API calls that add them (create + link, 4 in flight, kept-alive)"),
            Unit::Time,
            Target::AtMost(5.0),
        );
        let r_cold = self.row(
            format!("{label} small zones: start with empty state → all loaded"),
            Unit::Time,
            Target::RatioAtMost(1.0, &[Kind::Knot]),
        );
        let r_api1 = self.row(
            format!("{label} small zones: the same, one request per zone (create with `primaries`)"),
            Unit::Time,
            Target::None,
        );
        let r_cold1 = self.row(
            format!("{label} small zones: the same, one request per zone → all loaded"),
            Unit::Time,
            Target::RatioAtMost(1.0, &[Kind::Knot]),
        );
        let r_cpu = self.row(
            format!("{label} small zones: CPU time the server used for the cold load (user + system)"),
            Unit::Time,
            Target::None,
        );
        let r_rss = self.row(format!("{label} zones: peak RSS during the cold load"), Unit::Bytes, Target::None);
        let r_ready =
            self.row(format!("{label} zones: restart with all loaded → ready"), Unit::Time, Target::Below(2.0));
        let r_soa = self.row(
            format!("{label} zones: SOA queries to the primary in the first {window} s"),
            Unit::Count,
            Target::AtMost(0.0),
        );
        let r_xfr =
            self.row(format!("{label} zones: transfers in the first {window} s"), Unit::Count, Target::AtMost(0.0));
        let names: Vec<String> = (0..n).map(many_zone).collect();
        for kind in self.kinds.clone() {
            let col = Col::Server(kind);
            let mut s = None;
            for rep in 0..self.o.cold_reps {
                say!("{label} zones: cold load {}/{}: {}", rep + 1, self.o.cold_reps, kind.label());
                if let Some(old) = s.take() {
                    Server::discard(old);
                }
                match self.many_cold(kind, &names).await {
                    Ok((server, t, peak, cpu)) => {
                        say!(
                            "  all loaded in {:.2} s, peak {:.0} MiB, {cpu:.2} CPU-seconds",
                            t.as_secs_f64(),
                            peak as f64 / MIB
                        );
                        self.rows[r_cpu].push(col, cpu);
                        if let Some(api) = server.api_time {
                            self.rows[r_api].push(col, api.as_secs_f64());
                        }
                        self.rows[r_cold].push(col, t.as_secs_f64());
                        self.rows[r_rss].push(col, peak as f64);
                        s = Some(server);
                    }
                    Err(e) => {
                        say!("  failed: {e}");
                        self.rows[r_cold].fail(col, e);
                    }
                }
            }
            let Some(mut s) = s else { continue };
            wait_idle(&s).await;
            for rep in 0..self.o.reps {
                say!("{label} zones: restart {}/{}: {}", rep + 1, self.o.reps, kind.label());
                match self.restart_once(&mut s, &names).await {
                    Ok((ready, soa, xfr)) => {
                        say!(
                            "  ready in {:.3} s; in {window} s: {soa} SOA queries, {xfr} transfers",
                            ready.as_secs_f64()
                        );
                        self.rows[r_ready].push(col, ready.as_secs_f64());
                        self.rows[r_soa].push(col, soa as f64);
                        self.rows[r_xfr].push(col, xfr as f64);
                    }
                    Err(e) => {
                        say!("  failed: {e}");
                        self.rows[r_ready].fail(col, e);
                        break;
                    }
                }
            }
            if kind == Kind::Secondaryd {
                self.api_latency(&mut s, &names).await;
            }
            s.discard();
            if kind == Kind::Secondaryd {
                say!("{label} zones: cold load, one request per zone: secondaryd");
                match self.many_cold_with(kind, &names, true).await {
                    Ok((server, t, _, cpu)) => {
                        say!("  all loaded in {:.2} s, {cpu:.2} CPU-seconds", t.as_secs_f64());
                        if let Some(api) = server.api_time {
                            self.rows[r_api1].push(col, api.as_secs_f64());
                        }
                        self.rows[r_cold1].push(col, t.as_secs_f64());
                        server.discard();
                    }
                    Err(e) => {
                        say!("  failed: {e}");
                        self.rows[r_cold1].fail(col, e);
                    }
                }
            }
        }
        self.many_by_catalog(&names).await;
    }

    /// API latency of link and show, at 10 zones (a server of its own) and at
    /// all the many zones (`loaded`, the server of the cold load), in rounds
    /// that take turns between the two servers: a slow spell of the machine
    /// (a shared VM has them) weighs on both figures alike, not on one.
    async fn api_latency(&mut self, loaded: &mut Server, names: &[String]) {
        let few = 10.min(names.len());
        let dir = self.server_dir(Kind::Secondaryd, "api-few");
        let sampled = async {
            let mut s = Server::new(Kind::Secondaryd, &dir, self.primary.addr(), names[..few].to_vec())?;
            s.start().await?;
            wait_all(&mut s, &names[..few], Instant::now(), Duration::from_secs(60)).await?;
            let mut on_few = api::ApiConn::unix(&s.socket()).await?;
            let mut on_many = api::ApiConn::unix(&loaded.socket()).await?;
            let (mut at_few, mut at_many) = (ApiTimes::default(), ApiTimes::default());
            for round in 0..API_ROUNDS {
                api_sample(&mut on_few, &names[..few], round, &mut at_few).await?;
                api_sample(&mut on_many, names, round, &mut at_many).await?;
            }
            s.discard();
            Ok::<_, String>((at_few, at_many))
        };
        let sampled = sampled.await;
        let (at_few, at_many) = match &sampled {
            Ok((f, m)) => (Ok(f), Ok(m)),
            Err(e) => (Err(e.clone()), Err(e.clone())),
        };
        let (many_label, few_label) = (count_label(names.len()), count_label(few));
        for (what, i) in [("link", 0), ("show", 1)] {
            for (q, pct) in [("p50", 0.50), ("p99", 0.99)] {
                let base = at_few.as_ref().ok().map(|v| quantile(v.of(i), pct));
                let r_few = self.row(format!("API {what} latency {q}, at {few_label} zones"), Unit::Time, Target::None);
                let target = base.map(|b| Target::AtMost(1.5 * b)).unwrap_or(Target::None);
                let r_many = self.row(format!("API {what} latency {q}, at {many_label} zones"), Unit::Time, target);
                let col = Col::Server(Kind::Secondaryd);
                match (&at_few, &at_many) {
                    (Ok(f), Ok(m)) => {
                        self.rows[r_few].push(col, quantile(f.of(i), pct));
                        self.rows[r_many].push(col, quantile(m.of(i), pct));
                    }
                    (Err(e), _) | (_, Err(e)) => {
                        self.rows[r_few].fail(col, e.clone());
                        self.rows[r_many].fail(col, e.clone());
                    }
                }
            }
        }
        self.notes.push(format!(
            "API latency: {} links (a new zone, created first, linked to the primary that has all the \
             zones, so the answer lists every one of them, as DNSimple's shape has it, then deleted) and as many \
             shows (`GET /zones/{{zone}}`) one after the other on one kept-alive connection of the control \
             socket; the answer read whole, not parsed. At {few_label} zones on a server of its own, in {API_ROUNDS} \
             rounds that take turns with the {many_label}; the target of the {many_label} rows is 1.5× the \
             {few_label} figure.",
            API_ROUNDS * API_PER_ROUND
        ));
    }

    /// The many zones from the primary's catalog alone, for the servers that
    /// consume catalogs.
    async fn many_by_catalog(&mut self, names: &[String]) {
        let label = count_label(names.len());
        let peers: &'static [Kind] = &[Kind::Bind, Kind::Knot];
        let r = self.row(
            format!("{label} zones by catalog: start with only the primary's catalog → all served"),
            Unit::Time,
            Target::RatioAtMost(0.5, peers),
        );
        let r_cpu = self.row(
            format!("{label} zones by catalog: CPU time the server used (user + system)"),
            Unit::Time,
            Target::None,
        );
        // The primary shares the machine's CPUs: what it spends serving the
        // transfers bounds how fast any secondary can get them all.
        let r_pcpu = self.row(
            format!("{label} zones by catalog: CPU time the BIND primary used serving them (user + system)"),
            Unit::Time,
            Target::None,
        );
        // The servers take turns, run after run: a machine that slows down
        // meanwhile weighs on every server alike.
        let kinds: Vec<Kind> = self.kinds.clone().into_iter().filter(|k| *k != Kind::Nsd).collect();
        let mut failed: Vec<Kind> = Vec::new();
        for rep in 0..self.o.reps {
            for &kind in &kinds {
                if failed.contains(&kind) {
                    continue;
                }
                say!("{label} zones by catalog {}/{}: {}", rep + 1, self.o.reps, kind.label());
                let dir = self.server_dir(kind, "catalog");
                let run = async {
                    let mut s = Server::new(kind, &dir, self.primary.addr(), vec![CATALOG.to_string()])?;
                    s.consume_catalog()?;
                    let primary_cpu = || self.primary.pid().map(mem::cpu_seconds).unwrap_or(f64::NAN);
                    let p0 = primary_cpu();
                    let t0 = Instant::now();
                    s.start().await?;
                    let t = wait_all(&mut s, names, t0, Duration::from_secs(1200)).await;
                    let cpu = s.pid().map(mem::cpu_seconds).unwrap_or(f64::NAN);
                    let pcpu = primary_cpu() - p0;
                    s.discard();
                    t.map(|t| (t, cpu, pcpu))
                };
                match run.await {
                    Ok((t, cpu, pcpu)) => {
                        say!("  all served in {:.2} s, {cpu:.2} CPU-seconds, the primary {pcpu:.2}", t.as_secs_f64());
                        self.rows[r].push(Col::Server(kind), t.as_secs_f64());
                        self.rows[r_cpu].push(Col::Server(kind), cpu);
                        self.rows[r_pcpu].push(Col::Server(kind), pcpu);
                    }
                    Err(e) => {
                        say!("  failed: {e}");
                        self.rows[r].fail(Col::Server(kind), e);
                        failed.push(kind);
                    }
                }
            }
        }
        self.notes.push(format!(
            "By catalog: the primary serves `{CATALOG}`, a catalog (RFC 9432 v2) of the {label} zones; secondaryd \
             gets only that zone (`\"catalog\": true`), BIND `catalog-zones` with `min-update-interval 1`, Knot \
             `catalog-role: interpret`; NSD has no catalog support. Each server runs `--reps` times, the servers \
             taking turns."
        ));
    }

    async fn many_cold(&mut self, kind: Kind, names: &[String]) -> R<(Server, Duration, u64, f64)> {
        self.many_cold_with(kind, names, false).await
    }

    /// [`Self::many_cold`]; with `one_request`, secondaryd gets each zone in
    /// one request (`primaries` on zone create). Also the CPU time the
    /// server used until then.
    async fn many_cold_with(
        &mut self,
        kind: Kind,
        names: &[String],
        one_request: bool,
    ) -> R<(Server, Duration, u64, f64)> {
        let dir = self.server_dir(kind, "many");
        let mut s = Server::new(kind, &dir, self.primary.addr(), names.to_vec())?;
        s.one_request = one_request;
        let t0 = Instant::now();
        s.start().await?;
        if kind == Kind::Secondaryd {
            say!("  the API calls that add the zones took {:.2} s", t0.elapsed().as_secs_f64());
        }
        let sampler = mem::Sampler::start(s.pid().ok_or("no process")?, kind.multi_process());
        let loaded = wait_all(&mut s, names, t0, Duration::from_secs(1200)).await;
        let cpu = mem::cpu_seconds(s.pid().ok_or("no process")?);
        let peak = sampler.finish();
        Ok((s, loaded?, peak, cpu))
    }

    async fn restart_once(&mut self, s: &mut Server, names: &[String]) -> R<(Duration, u64, u64)> {
        s.stop()?;
        let from = self.primary.query_log_len();
        let wall = SystemTime::now();
        let t0 = Instant::now();
        s.start().await?;
        let ready = wait_all(s, names, t0, Duration::from_secs(600)).await?;
        let end = t0 + self.o.window;
        if let Some(left) = end.checked_duration_since(Instant::now()) {
            tokio::time::sleep(left).await;
        }
        // Let the primary's log catch up.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (soa, xfr) = self.primary.queries_between(from, wall, wall + self.o.window);
        wait_idle(s).await;
        Ok((ready, soa, xfr))
    }

    fn report(&mut self) -> R<()> {
        let now = SystemTime::now();
        let mut md = String::new();
        md.push_str(&format!(
            "# secondaryd benchmark, {}{}\n\n",
            util::utc_stamp(now, ':'),
            if self.o.smoke { " (smoke: tiny sizes, not a measurement)" } else { "" }
        ));
        md.push_str(&format!(
            "`cargo bench --bench secondary{}` · {} CPUs, {} · runs per row: {} (cold loads of the many zones: {}) · \
             primary: {} · commit {}\n\n",
            if self.o.smoke { " -- --smoke" } else { "" },
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            mem_total(),
            self.o.reps,
            self.o.cold_reps,
            Kind::Bind.version(),
            git_rev(),
        ));
        md.push_str("Servers: ");
        md.push_str(
            &self.kinds.iter().map(|k| format!("{} ({})", k.label(), k.version())).collect::<Vec<_>>().join(", "),
        );
        md.push_str(".\n\n");
        md.push_str(&report::table(&self.rows, &self.kinds));
        md.push_str(
            "\nCells: median (min–max) over the runs; times from the trigger until the server answers the new \
             serial (its SOA over UDP, every server alike, polled every 0.2 ms at first); a NOTIFY carries the new SOA \
             as a primary's does (RFC 1996 §3.7). Lower is better except in the `q/s` rows (queries per \
             second), where higher is; `secondaryd / best peer` divides the medians by the best peer's.\n",
        );
        if !self.notes.is_empty() {
            md.push_str("\nNotes:\n");
            for n in &self.notes {
                md.push_str(&format!("- {n}\n"));
            }
        }
        println!("{md}");
        let out = match &self.o.out {
            Some(p) => p.clone(),
            None => {
                let name = format!("{}{}.md", util::utc_stamp(now, '-'), if self.o.smoke { "-smoke" } else { "" });
                Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/results").join(name)
            }
        };
        if let Some(dir) = out.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        std::fs::write(&out, &md).map_err(|e| format!("write {}: {e}", out.display()))?;
        say!("results written to {}", out.display());
        Ok(())
    }
}

/// Rounds of [`api_sample`] per server, and calls of each kind per round.
const API_ROUNDS: usize = 10;
const API_PER_ROUND: usize = 100;

/// Seconds of each link and each show, in the order taken.
#[derive(Default)]
struct ApiTimes {
    links: Vec<f64>,
    shows: Vec<f64>,
}

impl ApiTimes {
    /// The links (0) or the shows (1).
    fn of(&self, kind: usize) -> &[f64] {
        if kind == 0 {
            &self.links
        } else {
            &self.shows
        }
    }
}

/// One round of [`API_PER_ROUND`] links and shows on a kept-alive
/// connection: a new zone is created (not timed), linked to the primary
/// (timed), an existing one shown (timed), and the new one deleted (not
/// timed), so the server keeps the zones it had.
async fn api_sample(conn: &mut api::ApiConn, names: &[String], round: usize, out: &mut ApiTimes) -> R<()> {
    for k in round * API_PER_ROUND..(round + 1) * API_PER_ROUND {
        let zone = format!("lat{k}.api.bench");
        conn.ok("POST", "/v2/1/secondary_dns/zones", Some(&serde_json::json!({ "name": zone }))).await?;
        let link = serde_json::json!({ "zone": zone });
        out.links.push(conn.ok("PUT", "/v2/1/secondary_dns/primaries/primary/link", Some(&link)).await?.as_secs_f64());
        let shown = &names[k % names.len()];
        out.shows.push(conn.ok("GET", &format!("/v2/1/zones/{shown}"), None).await?.as_secs_f64());
        conn.ok("DELETE", &format!("/v2/1/domains/{zone}"), None).await?;
    }
    Ok(())
}

/// The `q` quantile (nearest rank) of `v`.
fn quantile(v: &[f64], q: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(((v.len() as f64 * q).ceil() as usize).saturating_sub(1)).copied().unwrap_or(f64::NAN)
}

/// Zones asked for their SOA per round of [`wait_all`] (a round each 20 ms: at
/// most 25,000 queries a second).
const POLL_BATCH: usize = 500;

/// Waits until every zone is loaded; returns the time since `from`.
async fn wait_all(s: &mut Server, names: &[String], from: Instant, limit: Duration) -> R<Duration> {
    let dns_names: Vec<_> = names.iter().map(|z| dns::name(z)).collect();
    let mut pending: Vec<usize> = (0..names.len()).collect();
    let mut cursor = 0;
    loop {
        // At most POLL_BATCH zones a round, in turn: polling all 10,000 every
        // 20 ms would be 500,000 queries a second, a load that would slow the
        // server it measures. Near the end every pending zone is asked each
        // round.
        cursor = if cursor >= pending.len() { 0 } else { cursor };
        let ask: Vec<usize> =
            pending.iter().cycle().skip(cursor).take(POLL_BATCH.min(pending.len())).copied().collect();
        cursor += ask.len();
        let done = s.loaded(&dns_names, &ask).await?;
        if !done.is_empty() {
            let mut is_done = vec![false; names.len()];
            for i in done {
                is_done[i] = true;
            }
            pending.retain(|&i| !is_done[i]);
        }
        if pending.is_empty() {
            return Ok(from.elapsed());
        }
        if from.elapsed() > limit {
            return Err(format!(
                "{} of {} zones not loaded within {limit:?}: {}",
                pending.len(),
                names.len(),
                s.log_tail(4)
            ));
        }
        tokio::time::sleep(poll_gap(from).max(Duration::from_millis(if names.len() > 100 { 20 } else { 1 }))).await;
    }
}

fn mem_total() -> String {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next().and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()))
        .map(|kb| format!("{:.0} GiB RAM", kb / 1024.0 / 1024.0))
        .unwrap_or_else(|| "? RAM".into())
}

fn git_rev() -> String {
    std::process::Command::new("git")
        .args(["-C", env!("CARGO_MANIFEST_DIR"), "rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "?".into())
}
