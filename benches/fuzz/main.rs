//! Fuzzing on the stable toolchain: `cargo bench --bench fuzz -- --seconds 60`
//! (README, "Fuzzing"). No coverage instrumentation: our own mutator
//! ([`mutate`]) over the checked-in corpus (`benches/fuzz/corpus/<target>/`),
//! keeping every input whose outcome signature (an RCODE and section counts,
//! an error's message without its numbers, …) was not seen before.
//!
//! Targets: `wire` (the message parser), `handler` (the DNS server's whole
//! `handle` path, in process), `ixfr` (the AXFR/IXFR interpreter), `text`
//! (RDATA → presentation text, checked against BIND) and `api` (the control
//! API's request bodies, over a Unix socket in process).
//!
//! Options: `--seconds N` per target (default 10), `--target NAME` (repeatable;
//! default all), `--seed N`, `--replay FILE` (one input, with `--target` or a
//! file under `target/fuzz-findings/<target>/`), `--write-seeds` (rewrites the
//! corpus from the inputs the targets build). A finding (a panic, or an
//! invariant broken) is written to `target/fuzz-findings/<target>/<hash>.bin`
//! and makes the run exit 1.

mod api;
mod handler;
mod ixfr;
mod mutate;
mod seeds;
mod text;
mod wire;

use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub const TARGETS: [&str; 5] = ["wire", "handler", "ixfr", "text", "api"];

/// At most this many inputs are kept per target (the oldest seeds always stay).
const MAX_CORPUS: usize = 8192;
/// Distinct findings reported (and written) per target, at most.
const MAX_FINDINGS: usize = 20;

/// One fuzz target.
pub trait Target {
    /// Runs one input: its outcome signature, or a finding (why it is one).
    fn run(&mut self, input: &[u8]) -> Result<String, String>;
    /// Inputs longer than this are cut.
    fn max_len(&self) -> usize {
        4096
    }
    /// Bytes of the target's own prefix before a DNS message, if any.
    fn prefix(&self) -> usize {
        0
    }
    /// A target-specific mutation; `false` leaves it to the generic one.
    fn mutate(&mut self, _rng: &mut StdRng, _input: &mut Vec<u8>, _corpus: &[Vec<u8>]) -> bool {
        false
    }
    /// Findings of checks done in batches (BIND), with the inputs they are about.
    fn flush(&mut self) -> Vec<(Vec<u8>, String)> {
        Vec::new()
    }
    /// Findings of the last batch, at the end of the run.
    fn finish(&mut self) -> Vec<(Vec<u8>, String)> {
        Vec::new()
    }
    /// A line of target-specific statistics for the summary.
    fn stats(&self) -> String {
        String::new()
    }
}

/// The message and place of the last panic (the hook keeps them quiet: a
/// panic is reported once, as a finding).
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

pub fn take_panic() -> Option<String> {
    LAST_PANIC.lock().ok().and_then(|mut p| p.take())
}

fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(non-string panic)".into());
        let at = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        let thread = std::thread::current().name().unwrap_or("?").to_string();
        if let Ok(mut p) = LAST_PANIC.lock() {
            *p = Some(format!("panic at {at} (thread {thread}): {msg}"));
        }
    }));
}

struct Args {
    seconds: f64,
    targets: Vec<String>,
    seed: u64,
    replay: Option<PathBuf>,
    write_seeds: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args { seconds: 10.0, targets: Vec::new(), seed: 0, replay: None, write_seeds: false };
    let mut seed = None;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--seconds" => a.seconds = value("--seconds")?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--target" => {
                let t = value("--target")?;
                if !TARGETS.contains(&t.as_str()) {
                    return Err(format!("unknown target {t}; targets: {}", TARGETS.join(", ")));
                }
                a.targets.push(t);
            }
            "--seed" => seed = Some(value("--seed")?.parse().map_err(|e| format!("--seed: {e}"))?),
            "--replay" => a.replay = Some(PathBuf::from(value("--replay")?)),
            "--write-seeds" => a.write_seeds = true,
            // What `cargo bench` adds.
            "--bench" => {}
            "-h" | "--help" => {
                println!(
                    "cargo bench --bench fuzz -- [--seconds N] [--target {}]... [--seed N] [--replay FILE] [--write-seeds]",
                    TARGETS.join("|")
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other} (see --help)")),
        }
    }
    a.seed = seed.unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
    });
    if a.targets.is_empty() {
        a.targets = TARGETS.iter().map(|s| s.to_string()).collect();
    }
    Ok(a)
}

pub fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/fuzz/corpus").join(target)
}

fn findings_dir(target: &str) -> PathBuf {
    let base = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    base.join("fuzz-findings").join(target)
}

fn make_target(name: &str) -> Box<dyn Target> {
    match name {
        "wire" => Box::new(wire::Wire),
        "handler" => Box::new(handler::Handler::new()),
        "ixfr" => Box::new(ixfr::Ixfr),
        "text" => Box::new(text::Text::new()),
        "api" => Box::new(api::Api::new()),
        _ => unreachable!("checked in parse_args"),
    }
}

fn seeds_of(name: &str) -> Vec<Vec<u8>> {
    match name {
        "wire" => seeds::wire(),
        "handler" => seeds::handler(),
        "ixfr" => seeds::ixfr(),
        "text" => seeds::text(),
        "api" => seeds::api(),
        _ => Vec::new(),
    }
}

fn load_corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = corpus_dir(target);
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    files.sort();
    let corpus: Vec<Vec<u8>> = files.iter().filter_map(|f| std::fs::read(f).ok()).collect();
    if corpus.is_empty() {
        eprintln!("{target}: no corpus in {} (write it with --write-seeds); starting from built seeds", dir.display());
        return seeds_of(target);
    }
    corpus
}

/// Runs one input under `catch_unwind`: its signature, or a finding.
fn run_one(t: &mut dyn Target, input: &[u8]) -> Result<String, String> {
    let _ = take_panic();
    let r = std::panic::catch_unwind(AssertUnwindSafe(|| t.run(input)));
    let panicked = take_panic();
    match r {
        Ok(Ok(sig)) => match panicked {
            // A panic on another thread (a server task) counts too.
            Some(p) => Err(p),
            None => Ok(sig),
        },
        Ok(Err(finding)) => Err(finding),
        Err(_) => Err(panicked.unwrap_or_else(|| "panic".into())),
    }
}

struct Findings {
    target: &'static str,
    seen: HashSet<String>,
    count: usize,
}

impl Findings {
    fn report(&mut self, input: &[u8], why: &str) {
        self.count += 1;
        let key = mutate::without_numbers(why.get(..why.len().min(160)).unwrap_or(why));
        if !self.seen.insert(key) || self.seen.len() > MAX_FINDINGS {
            return;
        }
        let dir = findings_dir(self.target);
        let _ = std::fs::create_dir_all(&dir);
        let file = dir.join(format!("{:016x}.bin", mutate::fnv(input)));
        let _ = std::fs::write(&file, input);
        println!("FINDING {}: {why}", self.target);
        println!("  input ({} bytes): {}", input.len(), mutate::hex(input, 96));
        println!("  replay: cargo bench --bench fuzz -- --target {} --replay {}", self.target, file.display());
    }
}

/// Fuzzes one target for `seconds`; returns the number of findings.
fn fuzz(name: &'static str, seconds: f64, seed: u64) -> usize {
    let started = Instant::now();
    let mut t = make_target(name);
    let setup = started.elapsed();
    let mut rng = StdRng::seed_from_u64(seed ^ mutate::fnv(name.as_bytes()));
    let mut corpus = load_corpus(name);
    let seeds = corpus.len();
    let mut sigs: HashMap<String, u64> = HashMap::new();
    let mut findings = Findings { target: name, seen: HashSet::new(), count: 0 };
    let mut execs: u64 = 0;
    for input in corpus.clone() {
        execs += 1;
        match run_one(t.as_mut(), &input) {
            Ok(sig) => *sigs.entry(sig).or_default() += 1,
            Err(why) => findings.report(&input, &why),
        }
    }
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let max_len = t.max_len();
    let prefix = t.prefix();
    while Instant::now() < deadline {
        for _ in 0..64 {
            // Newer finds are mutated more often (they are what is novel).
            let i = if rng.random_bool(0.5) && corpus.len() > seeds {
                rng.random_range(seeds..corpus.len())
            } else {
                rng.random_range(0..corpus.len())
            };
            let mut input = corpus[i].clone();
            if !t.mutate(&mut rng, &mut input, &corpus) {
                mutate::mutate(&mut rng, &mut input, &corpus, max_len, prefix);
            }
            execs += 1;
            match run_one(t.as_mut(), &input) {
                Ok(sig) => {
                    let n = sigs.entry(sig).or_default();
                    *n += 1;
                    if *n == 1 {
                        if corpus.len() >= MAX_CORPUS {
                            let j = rng.random_range(seeds..corpus.len());
                            corpus[j] = input;
                        } else {
                            corpus.push(input);
                        }
                    }
                }
                Err(why) => findings.report(&input, &why),
            }
        }
        for (input, why) in t.flush() {
            findings.report(&input, &why);
        }
    }
    for (input, why) in t.finish() {
        findings.report(&input, &why);
    }
    let secs = started.elapsed().as_secs_f64();
    let extra = t.stats();
    println!(
        "{name:8} {execs:>9} executions in {secs:.1} s ({:.0}/s, setup {} ms), {} distinct outcomes, corpus {} ({} seeds), {} findings ({} distinct){}{}",
        execs as f64 / secs.max(0.001),
        setup.as_millis(),
        sigs.len(),
        corpus.len(),
        seeds,
        findings.count,
        findings.seen.len(),
        if extra.is_empty() { "" } else { "; " },
        extra
    );
    findings.count
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("fuzz: {e}");
            std::process::exit(2);
        }
    };
    if args.write_seeds {
        for name in &args.targets {
            let dir = corpus_dir(name);
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("create the corpus directory");
            let seeds = seeds_of(name);
            for (i, s) in seeds.iter().enumerate() {
                std::fs::write(dir.join(format!("seed-{i:03}.bin")), s).expect("write a seed");
            }
            println!("{name}: {} seeds in {}", seeds.len(), dir.display());
        }
        return;
    }
    install_panic_hook();
    if let Some(file) = &args.replay {
        let from_path = file.parent().and_then(|p| p.file_name()).and_then(|n| n.to_str()).map(str::to_string);
        let name = if args.targets.len() == 1 {
            args.targets[0].clone()
        } else {
            match from_path.filter(|n| TARGETS.contains(&n.as_str())) {
                Some(n) => n,
                None => {
                    eprintln!("fuzz: --replay needs --target NAME");
                    std::process::exit(2);
                }
            }
        };
        let input = std::fs::read(file).unwrap_or_else(|e| {
            eprintln!("fuzz: cannot read {}: {e}", file.display());
            std::process::exit(2);
        });
        let mut t = make_target(&name);
        let mut r = run_one(t.as_mut(), &input);
        if let Some((_, why)) = t.finish().into_iter().next() {
            r = Err(why);
        }
        match r {
            Ok(sig) => println!("{name}: no finding; outcome {sig}"),
            Err(why) => {
                println!("{name}: FINDING: {why}");
                std::process::exit(1);
            }
        }
        return;
    }
    println!("fuzz: seed {} ({} s per target; replay a run with --seed {})", args.seed, args.seconds, args.seed);
    let mut total = 0;
    for name in TARGETS.iter().filter(|t| args.targets.iter().any(|a| a == *t)) {
        total += fuzz(name, args.seconds, args.seed);
    }
    if total > 0 {
        println!("fuzz: {total} findings (files under {})", findings_dir("<target>").display());
        std::process::exit(1);
    }
    println!("fuzz: no findings");
}
