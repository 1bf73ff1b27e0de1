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
