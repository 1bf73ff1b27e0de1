//! The zones of the benchmark, generated: a big zone of mixed types (A, AAAA,
//! TXT, MX), small zones, and the `nsupdate` scripts that change them.

use std::io::Write;
use std::path::Path;

/// SOA timers of every zone: refresh 1 h, retry 10 min, expire 14 d, minimum
/// 5 min, so that nothing refreshes by itself during a run.
pub const TIMERS: &str = "3600 600 1209600 300";

/// Records that every zone starts with: SOA, NS, the NS's address.
const HEAD_RECORDS: usize = 3;

fn head(origin: &str, serial: u32) -> String {
    format!(
        "$ORIGIN {origin}.\n$TTL 3600\n@ IN SOA ns1 hostmaster {serial} {TIMERS}\n@ IN NS ns1\nns1 IN A 127.0.0.1\n"
    )
}

/// The owner of body record `i` (0-based) of a generated zone.
fn owner(i: usize) -> String {
    format!("r{i}")
}

/// One body record: the type cycles A, AAAA, TXT, MX.
fn body_record(out: &mut impl Write, origin: &str, i: usize) -> std::io::Result<()> {
    let o = owner(i);
    match i % 4 {
        0 => writeln!(out, "{o} IN A 10.{}.{}.{}", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff),
        // At most four hex digits per group.
        1 => writeln!(out, "{o} IN AAAA 2001:db8:{:x}:{:x}::{:x}", (i >> 16) & 0xffff, i & 0xffff, i % 7 + 1),
        2 => writeln!(out, "{o} IN TXT \"bench record {i}\" \"v=spf1 ip4:192.0.2.{} -all\"", i % 250),
        _ => writeln!(out, "{o} IN MX {} mx{}.{origin}.", 10 * (i % 5), i % 97),
    }
}

/// Writes a zone of exactly `records` records (at least 4) to `path`.
pub fn write_zone(path: &Path, origin: &str, serial: u32, records: usize) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    out.write_all(head(origin, serial).as_bytes())?;
    for i in 0..records.saturating_sub(HEAD_RECORDS) {
        body_record(&mut out, origin, i)?;
    }
    out.flush()
}

/// An `nsupdate` script that replaces the address of `count` A records of a
/// zone written by [`write_zone`] with `records` records; `step` makes each
/// change different. Every record changed is a delete plus an add in the IXFR.
pub fn change_script(primary_port: u16, origin: &str, records: usize, step: usize, count: usize) -> String {
    let body = records.saturating_sub(HEAD_RECORDS).max(1);
    let a_records = body.div_ceil(4);
    let mut s = format!("server 127.0.0.1 {primary_port}\nzone {origin}\n");
    for k in 0..count {
        // Spread over the zone; index 4·j is an A record.
        let j = (step * count + k).wrapping_mul(7919).wrapping_add(k * 104_729) % a_records;
        let o = owner(4 * j);
        s.push_str(&format!(
            "update delete {o}.{origin}. A\nupdate add {o}.{origin}. 3600 A 10.250.{}.{}\n",
            step % 250,
            k % 250
        ));
    }
    s.push_str("send\n");
    s
}

/// Records after the head of a zone written by [`write_zone`].
pub fn body_count(records: usize) -> usize {
    records.saturating_sub(HEAD_RECORDS)
}

/// The types of body records, in the order they cycle.
const BODY_TYPES: [&str; 4] = ["A", "AAAA", "TXT", "MX"];

/// The query mixes of the serving rows, each a dnsperf query file of the
/// zone's own names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mix {
    /// Existing names, each with its own type (A, AAAA, TXT, MX).
    Existing,
    /// Random names that the zone does not have, under the zone.
    Nxdomain,
    /// Existing names of the signed zone, with the DO bit (dnsperf `-D`).
    Signed,
}

impl Mix {
    pub const ALL: [Mix; 3] = [Mix::Existing, Mix::Nxdomain, Mix::Signed];

    pub fn letter(self) -> char {
        match self {
            Mix::Existing => 'a',
            Mix::Nxdomain => 'b',
            Mix::Signed => 'c',
        }
    }

    /// The response code every answer of the mix should have.
    pub fn rcode(self) -> &'static str {
        if self == Mix::Nxdomain {
            "NXDOMAIN"
        } else {
            "NOERROR"
        }
    }

    pub fn dnssec_ok(self) -> bool {
        self == Mix::Signed
    }
}

/// SplitMix64: the query files are the same in every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Writes a dnsperf query file (`name TYPE` a line) of `lines` queries in a
/// random order for the zone `origin` of `records` records written by
/// [`write_zone`]: its body names with their own types, or (NXDOMAIN) random
/// labels under it, which no body name looks like.
pub fn write_queries(path: &Path, origin: &str, records: usize, mix: Mix, lines: usize) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let body = body_count(records).max(1);
    let mut rng = Rng(0x5ec0_11da_0000 + mix as u64);
    for _ in 0..lines {
        let r = rng.next();
        let i = (r % body as u64) as usize;
        match mix {
            Mix::Existing | Mix::Signed => writeln!(out, "{}.{origin} {}", owner(i), BODY_TYPES[i % 4])?,
            Mix::Nxdomain => {
                writeln!(out, "nx{:012x}.{origin} {}", rng.next() >> 16, BODY_TYPES[(r >> 60) as usize % 4])?
            }
        }
    }
    out.flush()
}

/// Writes the zone `origin` of `records` records and signs it into
/// `<dir>/<origin>.zone`: a KSK and a ZSK (ECDSA P-256) made by
/// `dnssec-keygen`, NSEC, `dnssec-signzone` keeping the serial. The keys go to
/// `<dir>/<origin>.keys/`.
pub fn write_signed_zone(dir: &Path, origin: &str, records: usize) -> Result<(), String> {
    let unsigned = dir.join(format!("{origin}.unsigned"));
    write_zone(&unsigned, origin, 1, records).map_err(|e| format!("write {}: {e}", unsigned.display()))?;
    let keys = dir.join(format!("{origin}.keys"));
    std::fs::create_dir_all(&keys).map_err(|e| e.to_string())?;
    let run = |prog: &str, args: &[&std::ffi::OsStr]| -> Result<(), String> {
        let out = std::process::Command::new(crate::util::tool(prog)?)
            .args(args)
            .current_dir(&keys)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("run {prog}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("{prog} failed: {}", String::from_utf8_lossy(&out.stderr).trim()))
        }
    };
    let os = |s: &'static str| std::ffi::OsStr::new(s);
    for ksk in [false, true] {
        let mut args = vec![os("-q"), os("-a"), os("ECDSAP256SHA256"), os("-n"), os("ZONE")];
        if ksk {
            args.extend([os("-f"), os("KSK")]);
        }
        args.extend([os("-K"), keys.as_os_str(), std::ffi::OsStr::new(origin)]);
        run("dnssec-keygen", &args)?;
    }
    let signed = dir.join(format!("{origin}.zone"));
    run(
        "dnssec-signzone",
        &[
            os("-q"),
            os("-S"),
            os("-K"),
            keys.as_os_str(),
            os("-o"),
            std::ffi::OsStr::new(origin),
            os("-N"),
            os("keep"),
            os("-f"),
            signed.as_os_str(),
            unsigned.as_os_str(),
        ],
    )
}
