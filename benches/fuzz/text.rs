//! `text`: RDATA → presentation text (`wire::text`), against BIND.
//!
//! Input: a 16-bit type and RDATA. Invariants: when `check_rdata` accepts
//! it, `rdata_to_text` does not panic and gives printable ASCII without
//! newlines. Every 2,000 such records in their type's own form (and at the
//! end), a zone of them goes through `named-compilezone -i none -f text -F
//! text`: BIND must load every record and print it as we did (whitespace
//! aside: BIND splits long base64 and hex). A sample of each batch also goes
//! through `named-rrchecker -u`: our text must read back as our RDATA.

use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::process::{Command, Stdio};

use rand::rngs::StdRng;
use rand::Rng;
use secondaryd::wire::text::{check_rdata, rdata_to_text, type_name};

use crate::mutate::{self, without_numbers};

/// One record of each type `wire::text` has a form for (and a few more
/// forms of some), as `TYPE rdata`; BIND turns them into the seeds' RDATA.
pub const PRESENTATION: &str = r#"
A 192.0.2.1
NS ns1.example.test.
MD md.example.test.
MF mf.example.test.
CNAME www.example.test.
SOA ns1.example.test. hostmaster.example.test. 7 3600 600 604800 300
MB mb.example.test.
MG mg.example.test.
MR mr.example.test.
NULL \# 3 010203
WKS 192.0.2.1 6 1 25 80
PTR ptr.example.test.
HINFO "PC" "Linux"
MINFO rm.example.test. em.example.test.
MX 10 mail.example.test.
TXT "v=spf1 -all" "a \"quoted\" \255 string"
RP mbox.example.test. txt.example.test.
AFSDB 1 afs.example.test.
X25 "311061700"
ISDN "150862028003217" "004"
RT 10 rt.example.test.
NSAP 0x47000580ffff000000321099991111222233334444
NSAP-PTR foo.example.
SIG A 13 3 3600 20240101000000 20231201000000 12345 example.test. AQID
KEY 256 3 13 AQIDBA==
PX 10 map822.example.test. mapx400.example.test.
GPOS "-32" "116.8" "10.0"
AAAA 2001:db8::1
LOC 52 22 23.000 N 4 53 32.000 E -2.00m 1m 10000m 10m
LOC 0 0 1.000 S 0 0 0.005 W 123.45m 0.10m 10000m 10m
NXT b.example.test. A MX DS
EID 89ABCDEF
NIMLOC 89ABCDEF
SRV 10 5 5060 sip.example.test.
ATMA 39246f000e7c9c0312000100010000000000000000
ATMA +14155551212
NAPTR 100 10 "u" "E2U+sip" "!^.*$!sip:info@example.test!" .
NAPTR 100 10 "" "" "" replace.example.test.
KX 10 kx.example.test.
CERT PKIX 12345 RSASHA256 AQIDBA==
CERT 300 0 99 /w==
A6 0 2001:db8::1
A6 64 ::1:2:3:4 prefix.example.test.
DNAME other.test.
SINK 1 2 3 YWJj
APL 1:192.0.2.0/24 !2:2001:db8::/32
APL
DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
SSHFP 4 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
SSHFP 4 0
IPSECKEY 10 1 2 192.0.2.38 AQID
IPSECKEY 10 3 2 gw.example.test. AQI=
IPSECKEY 10 2 2 ::64.0.0.0 AQI=
IPSECKEY 10 0 2 . AQID
RRSIG SOA 13 2 300 20300101000000 20240101000000 12345 example.test. AQIDBAUGBwg=
NSEC a.example.test. NS SOA RRSIG NSEC DNSKEY TYPE1234
DNSKEY 257 3 13 AwEAAbdxyhNuSutc5EMzxTs9LBPCIkOFH8cIvM4p9+LrV4e19WzK00+CI6zBCQTd
DHCID AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfNuVAA2kjEA=
NSEC3 1 1 12 AABBCCDD 2VPTU5TIMAMQTTGL4LUU9KG21E0AOR3S A RRSIG
NSEC3 1 0 0 - 2VPTU5TIMAMQTTGL4LUU9KG21E0AOR3S
NSEC3PARAM 1 0 10 AABBCCDD
NSEC3PARAM 1 0 0 -
TLSA 3 1 1 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
SMIMEA 3 1 1 0123456789ABCDEF
HIP 2 200100107B1A74DF365639CC39F1D578 AwEAAbdxyhNuSutc5EMzxTs9LBPCIkOFH8cIvM4p9+LrV4e19WzK00+CI6zB rvs.example.test.
NINFO "abc"
RKEY 0 3 13 AQID
TALINK a.example.test. b.example.test.
CDS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
CDNSKEY 257 3 13 AQIDBA==
OPENPGPKEY AQIDBAUGBwg=
CSYNC 66 3 A NS AAAA
ZONEMD 2018031900 1 1 FEBE3D4CE2EC2FFA4BA99D46CD69D6D29711E55217057BEE7EB1A7B641A47BA7FED2DD5B97AE499FAFA4F22C6BD647DE
SVCB 1 svc.example.test. alpn="h2,h3" port=8443 ipv4hint=192.0.2.1 ech=AQID ipv6hint=2001:db8::1
SVCB 0 alias.example.test.
HTTPS 1 . alpn="h2" key7="/dns-query{?dns}"
HTTPS 1 . mandatory=key8 key8
HTTPS 1 . alpn="h\\,2" no-default-alpn port=443
SPF "v=spf1 ip4:192.0.2.0/24 -all"
NID 10 14:4fff:ff20:ee64
L32 10 10.1.2.0
L64 10 2001:db81:14fa:0
LP 10 l64.example.test.
EUI48 00-00-5e-00-53-ff
EUI64 00-00-5e-00-00-00-00-01
URI 10 1 "https://example.test/"
URI 10 1 ""
CAA 0 issue "ca.example.test"
CAA 128 tbs "Unknown"
AVC "app-name:WOLFGANG|app-class:OAM"
DOA 0 1 2 "image/jpeg" AQI=
DOA 0 1 2 "" -
AMTRELAY 10 1 1 192.0.2.1
AMTRELAY 0 0 0 .
AMTRELAY 10 0 3 relay.example.test.
RESINFO "qnamemin" "exterr=15,16,17"
TA 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
DLV 12345 13 1 0123456789ABCDEF0123456789ABCDEF01234567
DSYNC CDS NOTIFY 5300 notify.example.test.
HHIT AQID
BRID AQID
WALLET "BTC" "bc1q..."
TYPE65280 \# 4 DEADBEEF
KEY 49152 3 13
"#;

/// `TYPE rdata` (a line of [`PRESENTATION`]) in wire form, by `named-rrchecker -u`.
pub fn bind_wire(line: &str) -> Result<(u16, Vec<u8>), String> {
    let out = rrchecker(&format!("IN {line}"))?;
    parse_unknown(&out).ok_or_else(|| format!("named-rrchecker printed `{out}` for `{line}`"))
}

/// Runs `named-rrchecker -u` on one record (`CLASS TYPE rdata`).
fn rrchecker(record: &str) -> Result<String, String> {
    let mut child = Command::new("named-rrchecker")
        .arg("-u")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run named-rrchecker ({e}): apt-get install bind9-utils"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(record.as_bytes());
        let _ = stdin.write_all(b"\n");
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || text.is_empty() {
        return Err(format!("named-rrchecker rejects `{record}`: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(text)
}

/// `CLASS1 TYPEn \# len HEX…` → (n, bytes).
fn parse_unknown(out: &str) -> Option<(u16, Vec<u8>)> {
    let mut f = out.split_whitespace();
    let _class = f.next()?;
    let t: u16 = f.next()?.strip_prefix("TYPE")?.parse().ok()?;
    if f.next()? != "\\#" {
        return None;
    }
    let len: usize = f.next()?.parse().ok()?;
    let hex: String = f.collect();
    let bytes = data_encoding::HEXUPPER_PERMISSIVE.decode(hex.as_bytes()).ok()?;
    (bytes.len() == len).then_some((t, bytes))
}

/// The `text` corpus as (type, RDATA) (the handler's zone holds them too).
pub fn corpus_records() -> Vec<(u16, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(crate::corpus_dir("text"))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .filter_map(|f| std::fs::read(f).ok())
        .filter(|v| v.len() >= 2)
        .map(|v| (u16::from_be_bytes([v[0], v[1]]), v[2..].to_vec()))
        .collect()
}

/// Types that cannot be in a zone file (meta types and the like).
fn not_in_zones(t: u16) -> bool {
    matches!(t, 0 | 41 | 128..=255) || t >= 0xff00
}

/// Types BIND refuses in a zone of ours for reasons not of the record's text:
/// MD and MF are obsolete, a SOA below the apex, SIG and NXT make an "old
/// style DNSSEC zone". Their text is only read back ([`rrchecker`]).
fn not_in_batch_zone(t: u16) -> bool {
    matches!(t, 3 | 4 | 6 | 24 | 30)
}

const BATCH: usize = 2_000;
/// Records per batch also read back by `named-rrchecker` (one process each).
const WIRE_SAMPLE: usize = 12;

pub struct Text {
    types: Vec<u16>,
    /// (input, type, text) waiting for BIND.
    batch: Vec<(Vec<u8>, u16, String)>,
    /// Records of [`not_in_batch_zone`] types, only read back.
    side: Vec<(Vec<u8>, u16, String)>,
    /// Types whose text BIND prints otherwise, both forms reading back as
    /// the same RDATA (RRSIG times past 2094: BIND counts them from now).
    /// Type → (our text, BIND's) of the first such record.
    pub equivalent: std::collections::BTreeMap<String, (String, String)>,
    /// Read-backs of BIND's differing text this batch (one process each).
    verified_in_batch: usize,
    /// Differing texts of types already shown equivalent, left unverified
    /// once a batch has used its read-backs.
    pub unverified: u64,
    /// Records BIND refused for reasons not of our text (printed at the end).
    pub notes: Vec<String>,
    pub checked: u64,
    pub read_back: u64,
    /// Types whose text BIND differed on (each is reported once).
    reported: HashSet<(u16, String)>,
    bind_missing: bool,
}

impl Text {
    pub fn new() -> Text {
        let mut types: Vec<u16> = corpus_records().into_iter().map(|(t, _)| t).collect();
        types.sort_unstable();
        types.dedup();
        Text {
            types,
            batch: Vec::new(),
            side: Vec::new(),
            equivalent: Default::default(),
            verified_in_batch: 0,
            unverified: 0,
            notes: Vec::new(),
            checked: 0,
            read_back: 0,
            reported: HashSet::new(),
            bind_missing: false,
        }
    }

    fn finding(&mut self, input: &[u8], t: u16, kind: &str, why: String) -> Option<(Vec<u8>, String)> {
        self.reported.insert((t, kind.to_string())).then(|| (input.to_vec(), why))
    }

    /// Runs BIND over the batch; the findings.
    fn bind_batch(&mut self) -> Vec<(Vec<u8>, String)> {
        let batch = std::mem::take(&mut self.batch);
        self.verified_in_batch = 0;
        if batch.is_empty() || self.bind_missing {
            return Vec::new();
        }
        let mut findings = Vec::new();
        let mut live: Vec<usize> = (0..batch.len()).collect();
        // BIND stops at the first few errors: drop the records it names and run again.
        for _round in 0..8 {
            let head = "$ORIGIN fuzz.test.\n$TTL 300\n@ IN SOA ns. h. 1 2 3 4 5\n@ IN NS ns.\n";
            let mut zone = String::from(head);
            for &i in &live {
                let (_, t, text) = &batch[i];
                zone.push_str(&format!("r{i} IN {} {text}\n", type_name(*t)));
            }
            let dir = match tempfile::tempdir() {
                Ok(d) => d,
                Err(_) => return findings,
            };
            let path = dir.path().join("fuzz.db");
            if std::fs::write(&path, &zone).is_err() {
                return findings;
            }
            let out = Command::new("named-compilezone")
                .args(["-i", "none", "-k", "ignore", "-n", "ignore", "-m", "ignore", "-M", "ignore", "-S", "ignore"])
                .args(["-f", "text", "-F", "text", "-o", "-", "fuzz.test"])
                .arg(&path)
                .output();
            let out = match out {
                Ok(o) => o,
                Err(e) => {
                    self.bind_missing = true;
                    findings
                        .push((Vec::new(), format!("cannot run named-compilezone ({e}): apt-get install bind9-utils")));
                    return findings;
                }
            };
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            if !out.status.success() {
                // `…/fuzz.db:LINE: message`
                let mut bad = HashSet::new();
                for l in stdout.lines().chain(stderr.lines()) {
                    let Some(rest) = l.split("fuzz.db:").nth(1) else { continue };
                    let Some((line, msg)) = rest.split_once(':') else { continue };
                    let Ok(line) = line.trim().parse::<usize>() else { continue };
                    let Some(&i) = line.checked_sub(5).and_then(|k| live.get(k)) else { continue };
                    bad.insert(i);
                    let (input, t, text) = &batch[i];
                    let why = format!("BIND rejects our text of a {} record: `{text}`:{msg}", type_name(*t));
                    match self.why_refused(input, *t, text) {
                        Some(note) => {
                            let note = format!("{} ({note}):{msg}", type_name(*t));
                            if self.notes.len() < 32
                                && !self.notes.iter().any(|n| n.starts_with(&note[..note.len().min(30)]))
                            {
                                self.notes.push(note);
                            }
                        }
                        None => findings.extend(self.finding(input, *t, "rejected", why)),
                    }
                }
                if bad.is_empty() {
                    findings.push((Vec::new(), format!("named-compilezone failed on a batch: {stdout} {stderr}")));
                    return findings;
                }
                live.retain(|i| !bad.contains(i));
                continue;
            }
            // Loaded: compare record by record.
            let mut theirs: HashMap<usize, String> = HashMap::new();
            for l in stdout.lines() {
                let mut f = l.split_whitespace();
                let Some(owner) = f.next() else { continue };
                let Some(i) = owner.strip_prefix('r').and_then(|o| o.strip_suffix(".fuzz.test.")) else { continue };
                let Ok(i) = i.parse::<usize>() else { continue };
                let rest: Vec<&str> = f.skip(3).collect();
                theirs.insert(i, rest.join(" "));
            }
            for &i in &live {
                let (input, t, ours) = &batch[i];
                self.checked += 1;
                match theirs.get(&i) {
                    None => {
                        let why = format!("BIND dropped our {} record `{ours}`", type_name(*t));
                        findings.extend(self.finding(input, *t, "dropped", why));
                    }
                    Some(theirs) if !same_text(ours, theirs) && !self.same_rdata(input, *t, ours, theirs) => {
                        let why = format!("BIND prints our {} record `{ours}` as `{theirs}`", type_name(*t));
                        findings.extend(self.finding(input, *t, "differs", why));
                    }
                    _ => {}
                }
            }
            break;
        }
        // Our text reads back (in BIND) as our RDATA.
        let step = (live.len() / WIRE_SAMPLE).max(1);
        let side = std::mem::take(&mut self.side);
        let sample =
            live.iter().step_by(step).take(WIRE_SAMPLE).map(|&i| &batch[i]).chain(side.iter().take(WIRE_SAMPLE));
        for (input, t, text) in sample {
            self.read_back += 1;
            let rdata = &input[2..];
            match rrchecker(&format!("IN {} {text}", type_name(*t))).map(|o| parse_unknown(&o)) {
                Ok(Some((bt, bytes))) if bt == *t && bytes == rdata => {}
                Ok(Some((_, bytes))) => {
                    let why = format!(
                        "our text of a {} record `{text}` reads back in BIND as {} instead of {}",
                        type_name(*t),
                        mutate::hex(&bytes, 64),
                        mutate::hex(rdata, 64)
                    );
                    findings.extend(self.finding(input, *t, "reads back", why));
                }
                Ok(None) | Err(_) => {}
            }
        }
        findings
    }
}

impl Text {
    /// Why BIND refusing a record of ours in a zone is not about our text:
    /// its zone checks (our text alone reads back as our RDATA), or BIND
    /// refusing the RDATA in any form (the RFC 3597 form too).
    fn why_refused(&mut self, input: &[u8], t: u16, text: &str) -> Option<&'static str> {
        let rdata = &input[2..];
        match rrchecker(&format!("IN {} {text}", type_name(t))).map(|o| parse_unknown(&o)) {
            Ok(Some((bt, bytes))) if bt == t && bytes == rdata => return Some("a zone check of BIND's"),
            Ok(_) => return None,
            Err(_) => {}
        }
        let generic = format!("IN TYPE{t} \\# {} {}", rdata.len(), data_encoding::HEXUPPER.encode(rdata));
        rrchecker(&generic).is_err().then_some("BIND refuses this RDATA in any form, the RFC 3597 one too")
    }

    /// Whether BIND's text of a record reads back as our RDATA (then the two
    /// texts are forms of the same record, noted in the summary).
    fn same_rdata(&mut self, input: &[u8], t: u16, ours: &str, theirs: &str) -> bool {
        let name = type_name(t).into_owned();
        if self.verified_in_batch >= 40 && self.equivalent.contains_key(&name) {
            self.unverified += 1;
            return true;
        }
        self.verified_in_batch += 1;
        let same = matches!(rrchecker(&format!("IN {name} {theirs}")).map(|o| parse_unknown(&o)),
            Ok(Some((bt, bytes))) if bt == t && bytes == input[2..]);
        if same {
            self.equivalent.entry(name).or_insert_with(|| (ours.to_string(), theirs.to_string()));
        }
        same
    }
}

/// Whether two presentations are the same, whitespace outside quotes and
/// letter case aside (BIND splits base64 and hex; it keeps case, but hex
/// digits may differ in case).
fn same_text(a: &str, b: &str) -> bool {
    let toks = |s: &str| s.split_whitespace().map(str::to_ascii_lowercase).collect::<Vec<_>>();
    if toks(a) == toks(b) {
        return true;
    }
    squash(a) == squash(b)
}

fn squash(s: &str) -> String {
    let mut out = String::new();
    let (mut quoted, mut escaped) = (false, false);
    for c in s.chars() {
        if escaped {
            escaped = false;
            out.push(c);
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                out.push(c);
            }
            '"' => {
                quoted = !quoted;
                out.push(c);
            }
            c if c.is_whitespace() && !quoted => {}
            c => out.push(c.to_ascii_lowercase()),
        }
    }
    out
}

impl crate::Target for Text {
    fn prefix(&self) -> usize {
        2
    }

    fn max_len(&self) -> usize {
        1024
    }

    fn mutate(&mut self, rng: &mut StdRng, input: &mut Vec<u8>, corpus: &[Vec<u8>]) -> bool {
        if input.len() < 2 {
            return false;
        }
        let mut rdata = input[2..].to_vec();
        let mut t = u16::from_be_bytes([input[0], input[1]]);
        match rng.random_range(0..20u8) {
            0 if !self.types.is_empty() => t = self.types[rng.random_range(0..self.types.len())],
            1 => t = rng.random(),
            _ => {
                let others: Vec<Vec<u8>> = corpus.iter().filter(|c| c.len() > 2).map(|c| c[2..].to_vec()).collect();
                mutate::mutate(rng, &mut rdata, &others, 1022, 0);
            }
        }
        *input = [t.to_be_bytes().to_vec(), rdata].concat();
        true
    }

    fn run(&mut self, input: &[u8]) -> Result<String, String> {
        if input.len() < 2 {
            return Ok("short".into());
        }
        let t = u16::from_be_bytes([input[0], input[1]]);
        let rdata = &input[2..];
        if let Err(e) = check_rdata(t, rdata) {
            let e: String = without_numbers(&e.0).chars().take(60).collect();
            return Ok(format!("{} refused: {e}", type_name(t)));
        }
        let text = rdata_to_text(t, rdata);
        if let Some(c) = text.chars().find(|c| !(' '..='~').contains(c)) {
            return Err(format!("the text of a {} record has {c:?}: {text}", type_name(t)));
        }
        let generic = text.starts_with("\\#");
        if !generic && !not_in_zones(t) {
            if not_in_batch_zone(t) {
                if self.side.len() < WIRE_SAMPLE {
                    self.side.push((input.to_vec(), t, text.clone()));
                }
            } else {
                self.batch.push((input.to_vec(), t, text.clone()));
            }
        }
        let words = text.split_whitespace().count().min(12);
        Ok(format!("{} {} words{}", type_name(t), words, if generic { " generic" } else { "" }))
    }

    fn flush(&mut self) -> Vec<(Vec<u8>, String)> {
        if self.batch.len() >= BATCH {
            self.bind_batch()
        } else {
            Vec::new()
        }
    }

    fn finish(&mut self) -> Vec<(Vec<u8>, String)> {
        let findings = self.bind_batch();
        for n in &self.notes {
            println!("NOTE text: BIND refused a record, not for our text: {n}");
        }
        for (t, (ours, theirs)) in &self.equivalent {
            println!("NOTE text: BIND prints our {t} `{ours}` as `{theirs}`, which reads back as the same RDATA");
        }
        findings
    }

    fn stats(&self) -> String {
        format!(
            "{} records compared with BIND's text, {} read back as wire by BIND; BIND's text differs but means the same for {:?}",
            self.checked,
            self.read_back,
            self.equivalent.keys().collect::<Vec<_>>()
        ) + &format!(" ({} more such texts not read back)", self.unverified)
    }
}
