//! Presentation format of records (RFC 1035 §5.1, RFC 3597 §5), as `dig` prints it and BIND's
//! `named-checkzone` reads it, plus the DNSimple API's `content`/`priority` split, and the check
//! that RDATA is well-formed for its type ([`check_rdata`]), which is the same walk without the
//! text: what passes the check prints in its type's own form, and BIND 9.18 loads it.
//!
//! Records are stored in wire form; this is only for display and the HTTP API, so it favours
//! never losing data over prettiness: any type not handled here, and any RDATA that does not
//! parse as its type says, is written in the RFC 3597 generic form `\# <len> <hex>`, which every
//! master-file parser accepts for every type.
//!
//! Choices where `dig` has options: base64 and hex fields are one unbroken token (dig inserts
//! spaces every 56 or 64 characters; both forms are accepted by `named-checkzone`); hex is
//! uppercase as BIND writes it; RRSIG times are `YYYYMMDDHHmmSS`; AAAA uses RFC 5952 form.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::net::{Ipv4Addr, Ipv6Addr};

use data_encoding::{BASE32HEX_NOPAD, BASE64, HEXLOWER, HEXUPPER};

use super::message::{skip_uncompressed_name, Record};
use super::name::Name;
use super::types::rtype;
pub use super::types::{class_from_name, class_name, type_from_name, type_name};

/// `write!` for [`Out`].
macro_rules! out {
    ($s:expr, $($t:tt)*) => {
        $s.putf(format_args!($($t)*))
    };
}

/// `owner TTL CLASS TYPE rdata`, the owner absolute.
pub fn record_to_line(r: &Record) -> String {
    let rdata = rdata_to_text(r.rtype, &r.rdata);
    let mut s = String::with_capacity(r.owner.as_wire().len() + rdata.len() + 24);
    let _ = write!(s, "{} {} {} {} {}", r.owner, r.ttl, class_name(r.class), type_name(r.rtype), rdata);
    s
}

/// `owner TYPE`, to name a record in an error message.
pub(crate) fn record_summary(r: &Record) -> String {
    format!("{} {}", r.owner, type_name(r.rtype))
}

/// What is wrong with RDATA that does not fit its type, as a phrase for an operator
/// (`RDLENGTH is 3, an IPv4 address is 4 bytes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdataError(pub String);

impl fmt::Display for RdataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RdataError {}

/// Checks RDATA against the structure of its type (fixed sizes, names that end within RDLENGTH,
/// character-strings that fit, SvcParams in order, …) for every type this module knows; RDATA of
/// other types is opaque and passes. What passes prints in the type's own form.
pub fn check_rdata(rtype: u16, rdata: &[u8]) -> Result<(), RdataError> {
    // Any address of the right length prints: no need to render one (most of
    // a small zone's records are addresses). A wrong length gets render's error.
    match (rtype, rdata.len()) {
        (rtype::A, 4) | (rtype::AAAA, 16) => return Ok(()),
        _ => {}
    }
    match render(rtype, rdata, Dots::Absolute, &mut Discard) {
        Ok(()) | Err(Bad::NotOurs) => Ok(()),
        Err(Bad::Malformed(e)) => Err(e),
    }
}

/// The RDATA in master-file form; the RFC 3597 generic form for unknown types or RDATA that does
/// not parse as its type.
pub fn rdata_to_text(rtype: u16, rdata: &[u8]) -> String {
    let mut s = String::with_capacity(rdata.len() * 2 + 8);
    match render(rtype, rdata, Dots::Absolute, &mut s) {
        Ok(()) => s,
        Err(_) => generic(rdata),
    }
}

/// The DNSimple ZoneRecord `content` and `priority` of a record: names without their trailing
/// dot (the root stays `.`); MX → (exchange, preference); SRV → ("weight port target",
/// priority); everything else the master-file RDATA.
///
/// TXT and SPF content keeps master-file quoting (`"v=spf1 -all"`, several strings as
/// `"a" "b"`), so strings with spaces, quotes or non-ASCII bytes survive a round trip.
pub fn dnsimple_content(r: &Record) -> (String, Option<u32>) {
    let d = &r.rdata;
    let mut s = String::with_capacity(d.len() * 2 + 8);
    let split = match r.rtype {
        rtype::MX => (|| {
            let mut c = Cursor::new(d);
            let pref = c.u16("preference")?;
            c.name("exchange", Dots::Relative, &mut s)?;
            c.end()?;
            Ok(Some(u32::from(pref)))
        })(),
        rtype::SRV => (|| {
            let mut c = Cursor::new(d);
            let (prio, weight, port) = (c.u16("priority")?, c.u16("weight")?, c.u16("port")?);
            out!(s, "{weight} {port} ");
            c.name("target", Dots::Relative, &mut s)?;
            c.end()?;
            Ok(Some(u32::from(prio)))
        })(),
        _ => render(r.rtype, d, Dots::Relative, &mut s).map(|()| None),
    };
    match split {
        Ok(prio) => (s, prio),
        Err(_) => (generic(d), None),
    }
}

/// `\# <len> <HEX>` (RFC 3597 §5); `\# 0` for empty RDATA.
fn generic(rdata: &[u8]) -> String {
    if rdata.is_empty() {
        return "\\# 0".into();
    }
    format!("\\# {} {}", rdata.len(), HEXUPPER.encode(rdata))
}

/// Whether names in RDATA keep their trailing dot.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dots {
    Absolute,
    Relative,
}

/// Why [`render`] gave no text.
enum Bad {
    /// A type this module has no form for.
    NotOurs,
    Malformed(RdataError),
}

type R<T> = Result<T, Bad>;

fn bad(why: impl Into<String>) -> Bad {
    Bad::Malformed(RdataError(why.into()))
}

/// Where [`render`] writes: a `String`, or nowhere ([`Discard`], for [`check_rdata`]).
trait Out {
    fn put(&mut self, s: &str);
    fn putc(&mut self, c: char);
    fn putf(&mut self, a: fmt::Arguments<'_>);
    /// A checked uncompressed wire-form name.
    fn put_name(&mut self, wire: &[u8], dots: Dots);
}

impl Out for String {
    fn put(&mut self, s: &str) {
        self.push_str(s);
    }
    fn putc(&mut self, c: char) {
        self.push(c);
    }
    fn putf(&mut self, a: fmt::Arguments<'_>) {
        let _ = self.write_fmt(a);
    }
    fn put_name(&mut self, wire: &[u8], dots: Dots) {
        let Ok(name) = Name::from_wire(wire) else { return };
        let start = self.len();
        let _ = write!(self, "{name}");
        if dots == Dots::Relative && self.len() - start > 1 {
            self.pop();
        }
    }
}

/// Output that goes nowhere: the structural walk alone.
struct Discard;

impl Out for Discard {
    fn put(&mut self, _: &str) {}
    fn putc(&mut self, _: char) {}
    fn putf(&mut self, _: fmt::Arguments<'_>) {}
    fn put_name(&mut self, _: &[u8], _: Dots) {}
}

/// A bounds-checked reader over RDATA; every method names the field it could not read.
struct Cursor<'a> {
    d: &'a [u8],
    p: usize,
}

impl<'a> Cursor<'a> {
    fn new(d: &'a [u8]) -> Cursor<'a> {
        Cursor { d, p: 0 }
    }
    fn bytes(&mut self, n: usize, what: &str) -> R<&'a [u8]> {
        let Some(b) = self.p.checked_add(n).and_then(|e| self.d.get(self.p..e)) else {
            return Err(bad(format!("the RDATA ({} bytes) ends inside the {what}", self.d.len())));
        };
        self.p += n;
        Ok(b)
    }
    fn u8(&mut self, what: &str) -> R<u8> {
        self.bytes(1, what).map(|b| b[0])
    }
    fn u16(&mut self, what: &str) -> R<u16> {
        self.bytes(2, what).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self, what: &str) -> R<u32> {
        self.bytes(4, what).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn rest(&mut self) -> &'a [u8] {
        let r = self.d.get(self.p..).unwrap_or(&[]);
        self.p = self.d.len();
        r
    }
    /// The rest, which must not be empty.
    fn rest_nonempty(&mut self, what: &str) -> R<&'a [u8]> {
        let r = self.rest();
        if r.is_empty() {
            return Err(bad(format!("the {what} is empty")));
        }
        Ok(r)
    }
    fn done(&self) -> bool {
        self.p >= self.d.len()
    }
    fn end(&self) -> R<()> {
        if self.done() {
            return Ok(());
        }
        Err(bad(format!("{} bytes follow the last field (RDLENGTH {})", self.d.len() - self.p, self.d.len())))
    }
    /// A `<character-string>` (RFC 1035 §3.3): a length byte and that many bytes.
    fn charstr(&mut self, what: &str) -> R<&'a [u8]> {
        let at = self.p;
        let n = usize::from(self.u8(what)?);
        let left = self.d.len() - self.p;
        self.bytes(n, what).map_err(|_| {
            bad(format!("the {what} at byte {at} is {n} bytes long but only {left} bytes of RDATA follow"))
        })
    }
    /// An uncompressed name, written to `s`.
    fn name(&mut self, what: &str, dots: Dots, s: &mut impl Out) -> R<()> {
        let Some(end) = skip_uncompressed_name(self.d, self.p) else {
            return Err(bad(format!(
                "the {what} at byte {} is not a domain name ending within the RDATA ({} bytes)",
                self.p,
                self.d.len()
            )));
        };
        s.put_name(&self.d[self.p..end], dots);
        self.p = end;
        Ok(())
    }
}

/// A digest or fingerprint whose length its algorithm fixes (`sizes`: algorithm, bytes, name).
fn digest<'a>(d: &'a [u8], alg: u8, sizes: &[(u8, usize, &str)]) -> R<&'a [u8]> {
    match sizes.iter().find(|(a, _, _)| *a == alg) {
        Some((_, n, name)) if d.len() != *n => {
            Err(bad(format!("the digest is {} bytes, a {name} digest is {n}", d.len())))
        }
        _ => Ok(d),
    }
}

/// An IPv6 address as BIND prints it: RFC 5952, except that an IPv4-compatible address
/// (`::a.b.c.d`: the first 96 bits zero, the seventh group not) keeps its dotted quad, as BIND's
/// `inet_ntop` does.
fn ipv6(b: [u8; 16]) -> String {
    let a = Ipv6Addr::from(b);
    if b[..12].iter().all(|&x| x == 0) && (b[12] | b[13]) != 0 {
        return format!("::{}", Ipv4Addr::new(b[12], b[13], b[14], b[15]));
    }
    a.to_string()
}

/// RDATA of exactly `n` bytes.
fn fixed(d: &[u8], n: usize, what: &str) -> R<()> {
    if d.len() != n {
        return Err(bad(format!("RDLENGTH is {}, {what} is {n} bytes", d.len())));
    }
    Ok(())
}

/// A quoted `<character-string>` as dig writes it: `\"` and `\\`, `\DDD` for bytes outside
/// printable ASCII (so non-ASCII UTF-8 shows as `\DDD` sequences, byte-exact).
fn push_quoted(out: &mut impl Out, s: &[u8]) {
    out.putc('"');
    for &b in s {
        match b {
            b'"' | b'\\' => {
                out.putc('\\');
                out.putc(char::from(b));
            }
            0x20..=0x7e => out.putc(char::from(b)),
            _ => out!(out, "\\{b:03}"),
        }
    }
    out.putc('"');
}

/// One or more quoted character-strings (TXT and the types shaped like it).
fn push_strings(s: &mut impl Out, c: &mut Cursor<'_>) -> R<()> {
    // RFC 1035 §3.3.14: one or more strings; zero strings is not valid TXT.
    if c.done() {
        return Err(bad("the RDATA holds no character-string"));
    }
    let mut first = true;
    while !c.done() {
        if !first {
            s.putc(' ');
        }
        first = false;
        push_quoted(s, c.charstr("character-string")?);
    }
    Ok(())
}

/// DNSSEC algorithm mnemonics as BIND prints them in CERT (RFC 4398 §2.1).
fn secalg_name(alg: u8) -> Option<&'static str> {
    Some(match alg {
        1 => "RSAMD5",
        2 => "DH",
        3 => "DSA",
        5 => "RSASHA1",
        6 => "NSEC3DSA",
        7 => "NSEC3RSASHA1",
        8 => "RSASHA256",
        10 => "RSASHA512",
        12 => "ECCGOST",
        13 => "ECDSAP256SHA256",
        14 => "ECDSAP384SHA384",
        15 => "ED25519",
        16 => "ED448",
        252 => "INDIRECT",
        253 => "PRIVATEDNS",
        254 => "PRIVATEOID",
        _ => return None,
    })
}

/// CERT type mnemonics (RFC 4398 §2.1).
fn cert_type_name(t: u16) -> Option<&'static str> {
    Some(match t {
        1 => "PKIX",
        2 => "SPKI",
        3 => "PGP",
        4 => "IPKIX",
        5 => "ISPKI",
        6 => "IPGP",
        7 => "ACPKIX",
        8 => "IACPKIX",
        253 => "URI",
        254 => "OID",
        _ => return None,
    })
}

/// LOC size and precision (RFC 1876 §2): mantissa and power of ten in one byte, in centimetres,
/// as BIND prints them (`1m`, `0.10m`, `10000m`).
fn loc_size(b: u8, what: &str) -> R<String> {
    let (mant, exp) = (u64::from(b >> 4), u32::from(b & 0x0f));
    if mant > 9 || exp > 9 || (mant == 0 && exp > 0) {
        return Err(bad(format!("the {what} byte {b:#04x} is not a mantissa of 1 to 9 and an exponent of 0 to 9")));
    }
    Ok(if exp > 1 { format!("{}m", mant * 10u64.pow(exp - 2)) } else { format!("0.{:02}m", mant * 10u64.pow(exp)) })
}

/// A LOC latitude or longitude: thousandths of a second of arc offset by 2^31.
fn loc_angle(v: u32, max_deg: u32, pos: &str, neg: &str, what: &str) -> R<String> {
    let (hemi, mut x) = if v >= 0x8000_0000 { (pos, v - 0x8000_0000) } else { (neg, 0x8000_0000 - v) };
    if x > max_deg * 3_600_000 {
        return Err(bad(format!("the {what} is more than {max_deg} degrees")));
    }
    let ms = x % 1000;
    x /= 1000;
    let sec = x % 60;
    x /= 60;
    let min = x % 60;
    let deg = x / 60;
    Ok(format!("{deg} {min} {sec}.{ms:03} {hemi}"))
}

/// The type-specific presentation into `s`.
fn render(rt: u16, d: &[u8], dots: Dots, s: &mut impl Out) -> R<()> {
    let mut c = Cursor::new(d);
    // Well-formed, but printed by BIND in the RFC 3597 form (and so by us).
    let mut generic = false;
    match rt {
        rtype::A => {
            fixed(d, 4, "an IPv4 address")?;
            let b = c.bytes(4, "address")?;
            out!(s, "{}", Ipv4Addr::new(b[0], b[1], b[2], b[3]));
        }
        rtype::AAAA => {
            fixed(d, 16, "an IPv6 address")?;
            let b: [u8; 16] = c.bytes(16, "address")?.try_into().map_err(|_| bad("bad address"))?;
            out!(s, "{}", ipv6(b));
        }
        rtype::NS
        | rtype::MD
        | rtype::MF
        | rtype::CNAME
        | rtype::MB
        | rtype::MG
        | rtype::MR
        | rtype::PTR
        | rtype::DNAME
        | NSAP_PTR => c.name("target", dots, s)?,
        rtype::MINFO | rtype::RP | TALINK => {
            c.name("first name", dots, s)?;
            s.putc(' ');
            c.name("second name", dots, s)?;
        }
        rtype::MX | rtype::AFSDB | rtype::RT | rtype::KX | rtype::LP => {
            let pref = c.u16("preference")?;
            out!(s, "{pref} ");
            c.name("name", dots, s)?;
        }
        rtype::PX => {
            let pref = c.u16("preference")?;
            out!(s, "{pref} ");
            c.name("MAP822 name", dots, s)?;
            s.putc(' ');
            c.name("MAPX400 name", dots, s)?;
        }
        rtype::SOA => {
            c.name("MNAME", dots, s)?;
            s.putc(' ');
            c.name("RNAME", dots, s)?;
            for what in ["SERIAL", "REFRESH", "RETRY", "EXPIRE", "MINIMUM"] {
                out!(s, " {}", c.u32(what)?);
            }
        }
        rtype::TXT | rtype::SPF | NINFO | AVC | RESINFO | WALLET => push_strings(s, &mut c)?,
        HHIT | BRID => s.put(&BASE64.encode(c.rest_nonempty("data")?)),
        DSYNC => {
            // draft-ietf-dnsop-generalized-notify: type, scheme, port, target.
            let (ty, scheme, port) = (c.u16("type")?, c.u8("scheme")?, c.u16("port")?);
            let scheme = if scheme == 1 { Cow::Borrowed("NOTIFY") } else { Cow::Owned(scheme.to_string()) };
            out!(s, "{} {scheme} {port} ", type_name(ty));
            c.name("target", dots, s)?;
        }
        // Meta-types and QTYPEs (RFC 6895 §3.1) are not data a zone can hold.
        128..=255 => return Err(bad(format!("{} is a meta-type, which no zone holds", type_name(rt)))),
        rtype::HINFO => {
            push_quoted(s, c.charstr("CPU string")?);
            s.putc(' ');
            push_quoted(s, c.charstr("OS string")?);
        }
        X25 => {
            // RFC 1183 §3.1: at least four digits.
            let psdn = c.charstr("PSDN address")?;
            if psdn.len() < 4 || !psdn.iter().all(u8::is_ascii_digit) {
                return Err(bad("the PSDN address is not four or more digits"));
            }
            push_quoted(s, psdn);
        }
        ISDN => {
            push_quoted(s, c.charstr("ISDN address")?);
            if !c.done() {
                s.putc(' ');
                push_quoted(s, c.charstr("subaddress")?);
            }
        }
        GPOS => {
            for (i, what) in ["longitude", "latitude", "altitude"].into_iter().enumerate() {
                if i > 0 {
                    s.putc(' ');
                }
                push_quoted(s, c.charstr(what)?);
            }
        }
        rtype::SRV => {
            let (p, w, port) = (c.u16("priority")?, c.u16("weight")?, c.u16("port")?);
            out!(s, "{p} {w} {port} ");
            c.name("target", dots, s)?;
        }
        rtype::NAPTR => {
            let (order, pref) = (c.u16("order")?, c.u16("preference")?);
            out!(s, "{order} {pref}");
            for what in ["flags", "services", "regexp"] {
                s.putc(' ');
                push_quoted(s, c.charstr(what)?);
            }
            s.putc(' ');
            c.name("replacement", dots, s)?;
        }
        rtype::CAA => {
            // RFC 8659 §4.1: flags, tag (1–15 ASCII letters and digits), value.
            let flags = c.u8("flags")?;
            let tag = c.charstr("tag")?;
            if tag.is_empty() || tag.len() > 15 || !tag.iter().all(u8::is_ascii_alphanumeric) {
                return Err(bad("the tag is not 1 to 15 ASCII letters and digits"));
            }
            out!(s, "{flags} {} ", String::from_utf8_lossy(tag));
            push_quoted(s, c.rest());
        }
        rtype::SSHFP => {
            let (alg, fp) = (c.u8("algorithm")?, c.u8("fingerprint type")?);
            // A fingerprint of an unknown type may be empty (BIND prints `4 0`).
            let print = digest(c.rest(), fp, &[(1, 20, "SHA-1"), (2, 32, "SHA-256")])?;
            out!(s, "{alg} {fp}");
            if !print.is_empty() {
                out!(s, " {}", HEXUPPER.encode(print));
            }
        }
        rtype::TLSA | rtype::SMIMEA => {
            let (u, sel, m) = (c.u8("usage")?, c.u8("selector")?, c.u8("matching type")?);
            out!(s, "{u} {sel} {m} {}", HEXUPPER.encode(c.rest_nonempty("certificate data")?));
        }
        rtype::DS | rtype::CDS | TA | DLV => {
            let (tag, alg, dt) = (c.u16("key tag")?, c.u8("algorithm")?, c.u8("digest type")?);
            let sizes = [(1, 20, "SHA-1"), (2, 32, "SHA-256"), (4, 48, "SHA-384")];
            out!(s, "{tag} {alg} {dt} {}", HEXUPPER.encode(digest(c.rest_nonempty("digest")?, dt, &sizes)?));
        }
        rtype::DNSKEY | rtype::CDNSKEY | rtype::KEY | RKEY => {
            let (flags, proto, alg) = (c.u16("flags")?, c.u8("protocol")?, c.u8("algorithm")?);
            if rt == RKEY && flags != 0 {
                return Err(bad(format!("the flags are {flags}, RKEY defines none")));
            }
            // KEY flags with both top bits set say "no key" (RFC 2535 §3.1.2): BIND reads
            // and writes a KEY so flagged without its key field, and refuses one with it.
            if rt == rtype::KEY && flags & 0xc000 == 0xc000 {
                if !c.rest().is_empty() {
                    return Err(bad(format!("the flags ({flags}) say no key, but a key follows")));
                }
                out!(s, "{flags} {proto} {alg}");
            } else {
                out!(s, "{flags} {proto} {alg} {}", BASE64.encode(c.rest_nonempty("public key")?));
            }
        }
        rtype::RRSIG | rtype::SIG => {
            let covered = c.u16("type covered")?;
            let (alg, labels) = (c.u8("algorithm")?, c.u8("labels")?);
            let (ttl, exp, inc) = (c.u32("original TTL")?, c.u32("expiration")?, c.u32("inception")?);
            let tag = c.u16("key tag")?;
            match type_name(covered) {
                // BIND prints a SIG's covered type without a mnemonic as a bare number.
                Cow::Owned(_) if rt == rtype::SIG => out!(s, "{covered}"),
                name => s.put(&name),
            }
            out!(s, " {alg} {labels} {ttl} {} {} {tag} ", timestamp(exp), timestamp(inc));
            c.name("signer", dots, s)?;
            out!(s, " {}", BASE64.encode(c.rest_nonempty("signature")?));
        }
        rtype::NSEC => {
            c.name("next owner", dots, s)?;
            // An NSEC has at least itself (RFC 4034 §4.1.2); BIND refuses an empty bitmap.
            push_bitmap(s, c.rest_nonempty("type bitmap")?)?;
        }
        rtype::NXT => {
            c.name("next owner", dots, s)?;
            // RFC 2535 §5.2: bit 0 zero, at most 128 types, no trailing zero byte.
            let bits = c.rest();
            if bits.first().is_some_and(|b| b & 0x80 != 0) || bits.len() > 16 || bits.last() == Some(&0) {
                return Err(bad("the type bitmap is not a valid NXT bitmap"));
            }
            for (i, byte) in bits.iter().enumerate() {
                for bit in 0..8 {
                    if byte & (0x80 >> bit) != 0 {
                        // BIND prints a type without a mnemonic here as a bare number.
                        match type_name((i * 8 + bit) as u16) {
                            Cow::Borrowed(n) => out!(s, " {n}"),
                            Cow::Owned(_) => out!(s, " {}", i * 8 + bit),
                        }
                    }
                }
            }
        }
        rtype::NSEC3 => {
            let (alg, flags, iter) = (c.u8("hash algorithm")?, c.u8("flags")?, c.u16("iterations")?);
            let salt = c.charstr("salt")?;
            let next = c.charstr("next hashed owner")?;
            if next.is_empty() {
                return Err(bad("the next hashed owner is empty"));
            }
            if alg == 1 && next.len() != 20 {
                return Err(bad(format!("the next hashed owner is {} bytes, a SHA-1 hash is 20", next.len())));
            }
            out!(s, "{alg} {flags} {iter} {} {}", salt_field(salt), BASE32HEX_NOPAD.encode(next));
            push_bitmap(s, c.rest())?;
        }
        rtype::NSEC3PARAM => {
            let (alg, flags, iter) = (c.u8("hash algorithm")?, c.u8("flags")?, c.u16("iterations")?);
            let salt = c.charstr("salt")?;
            out!(s, "{alg} {flags} {iter} {}", salt_field(salt));
        }
        rtype::SVCB | rtype::HTTPS => {
            let prio = c.u16("priority")?;
            out!(s, "{prio} ");
            c.name("target", dots, s)?;
            push_svc_params(s, c.rest())?;
        }
        rtype::OPENPGPKEY | rtype::DHCID => s.put(&BASE64.encode(c.rest_nonempty("data")?)),
        rtype::URI => {
            let (prio, weight) = (c.u16("priority")?, c.u16("weight")?);
            out!(s, "{prio} {weight} ");
            push_quoted(s, c.rest());
        }
        rtype::ZONEMD => {
            let (serial, scheme, alg) = (c.u32("serial")?, c.u8("scheme")?, c.u8("hash algorithm")?);
            let d = digest(c.rest(), alg, &[(1, 48, "SHA-384"), (2, 64, "SHA-512")])?;
            // RFC 8976 §2.2.4: a digest of any algorithm has at least 12 octets.
            if d.len() < 12 {
                return Err(bad(format!("the digest is {} bytes, less than 12", d.len())));
            }
            out!(s, "{serial} {scheme} {alg} {}", HEXUPPER.encode(d));
        }
        rtype::CSYNC => {
            let (serial, flags) = (c.u32("serial")?, c.u16("flags")?);
            out!(s, "{serial} {flags}");
            push_bitmap(s, c.rest())?;
        }
        rtype::WKS => {
            let a = c.bytes(4, "address")?;
            let proto = c.u8("protocol")?;
            out!(s, "{} {proto}", Ipv4Addr::new(a[0], a[1], a[2], a[3]));
            let bits = c.rest();
            if bits.len() > 8192 || bits.last() == Some(&0) {
                return Err(bad("the port bitmap is longer than 8192 bytes or ends in a zero byte"));
            }
            for (i, byte) in bits.iter().enumerate() {
                for bit in 0..8 {
                    if byte & (0x80 >> bit) != 0 {
                        out!(s, " {}", i * 8 + bit);
                    }
                }
            }
        }
        NSAP => out!(s, "0x{}", HEXLOWER.encode(c.rest_nonempty("address")?)),
        ATMA => {
            let format = c.u8("format")?;
            let addr = c.rest_nonempty("address")?;
            match format {
                0 => s.put(&HEXLOWER.encode(addr)),
                1 if addr.iter().all(u8::is_ascii_digit) => out!(s, "+{}", String::from_utf8_lossy(addr)),
                1 => return Err(bad("the E.164 address holds something other than digits")),
                // Other formats are kept; BIND prints them in the RFC 3597 form too.
                _ => return Err(Bad::NotOurs),
            }
        }
        A6 => {
            // RFC 2874 §3.1.1: prefix length, the address suffix in as few octets as hold it
            // (the bits of the prefix zero), then the prefix name unless the prefix is 0.
            let plen = c.u8("prefix length")?;
            if plen > 128 {
                return Err(bad(format!("the prefix length {plen} is more than 128")));
            }
            let octets = 16 - usize::from(plen / 8);
            let suffix = c.bytes(octets, "address suffix")?;
            let used = 8 - plen % 8;
            if used < 8 && suffix.first().is_some_and(|b| b >> used != 0) {
                return Err(bad("the address suffix has bits set inside the prefix"));
            }
            out!(s, "{plen} ");
            if octets > 0 {
                let mut full = [0u8; 16];
                full[16 - octets..].copy_from_slice(suffix);
                out!(s, "{}", ipv6(full));
            }
            if plen > 0 {
                s.putc(' ');
                c.name("prefix name", dots, s)?;
            }
        }
        EID | NIMLOC => s.put(&HEXUPPER.encode(c.rest_nonempty("data")?)),
        rtype::LOC => {
            if c.u8("version")? != 0 {
                // Another version is opaque (RFC 1876 §2); BIND keeps it in the RFC 3597 form.
                return Err(Bad::NotOurs);
            }
            fixed(d, 16, "a LOC record")?;
            let (size, hp, vp) = (c.u8("size")?, c.u8("horizontal precision")?, c.u8("vertical precision")?);
            let (size, hp, vp) =
                (loc_size(size, "size")?, loc_size(hp, "horizontal precision")?, loc_size(vp, "vertical precision")?);
            let lat = loc_angle(c.u32("latitude")?, 90, "N", "S", "latitude")?;
            let lon = loc_angle(c.u32("longitude")?, 180, "E", "W", "longitude")?;
            let alt = c.u32("altitude")?;
            let (sign, cm) = if alt < 10_000_000 { ("-", 10_000_000 - alt) } else { ("", alt - 10_000_000) };
            out!(s, "{lat} {lon} {sign}{}.{:02}m {size} {hp} {vp}", cm / 100, cm % 100);
        }
        rtype::CERT => {
            let (t, tag, alg) = (c.u16("certificate type")?, c.u16("key tag")?, c.u8("algorithm")?);
            match cert_type_name(t) {
                Some(n) => s.put(n),
                None => out!(s, "{t}"),
            }
            out!(s, " {tag} ");
            match secalg_name(alg) {
                Some(n) => s.put(n),
                None => out!(s, "{alg}"),
            }
            out!(s, " {}", BASE64.encode(c.rest_nonempty("certificate")?));
        }
        rtype::APL => {
            let mut first = true;
            while !c.done() {
                let family = c.u16("address family")?;
                let prefix = c.u8("prefix length")?;
                let nlen = c.u8("address length")?;
                let (neg, len) = (nlen & 0x80 != 0, usize::from(nlen & 0x7f));
                let part = c.bytes(len, "address part")?;
                let (max, bits) = match family {
                    1 => (4, 32),
                    2 => (16, 128),
                    _ => {
                        generic = true;
                        continue;
                    }
                };
                if len > max || prefix > bits || part.last() == Some(&0) {
                    return Err(bad(format!("an address item of family {family} is not in RFC 3123 form")));
                }
                if !first {
                    s.putc(' ');
                }
                first = false;
                let mut full = [0u8; 16];
                full[..len].copy_from_slice(part);
                let neg = if neg { "!" } else { "" };
                if family == 1 {
                    out!(s, "{neg}1:{}/{prefix}", Ipv4Addr::new(full[0], full[1], full[2], full[3]));
                } else {
                    out!(s, "{neg}2:{}/{prefix}", ipv6(full));
                }
            }
        }
        rtype::IPSECKEY => {
            let (prec, gw, alg) = (c.u8("precedence")?, c.u8("gateway type")?, c.u8("algorithm")?);
            out!(s, "{prec} {gw} {alg} ");
            gateway(s, &mut c, gw, dots)?;
            out!(s, " {}", BASE64.encode(c.rest_nonempty("public key")?));
        }
        rtype::HIP => {
            let hit_len = usize::from(c.u8("HIT length")?);
            let alg = c.u8("public key algorithm")?;
            let pk_len = usize::from(c.u16("public key length")?);
            if hit_len == 0 || pk_len == 0 {
                return Err(bad("the HIT or the public key is empty"));
            }
            let hit = c.bytes(hit_len, "HIT")?;
            let pk = c.bytes(pk_len, "public key")?;
            out!(s, "{alg} {} {}", HEXUPPER.encode(hit), BASE64.encode(pk));
            while !c.done() {
                s.putc(' ');
                c.name("rendezvous server", dots, s)?;
            }
        }
        rtype::NID | rtype::L64 => {
            fixed(d, 10, &format!("a {} record", type_name(rt)))?;
            let pref = c.u16("preference")?;
            let b = c.bytes(8, "locator")?;
            // As BIND prints them: four groups of hex without leading zeros.
            for (i, g) in b.chunks_exact(2).enumerate() {
                out!(
                    s,
                    "{}{:x}",
                    if i == 0 { format!("{pref} ") } else { ":".into() },
                    u16::from_be_bytes([g[0], g[1]])
                );
            }
        }
        rtype::L32 => {
            fixed(d, 6, "an L32 record")?;
            let pref = c.u16("preference")?;
            let b = c.bytes(4, "locator")?;
            out!(s, "{pref} {}", Ipv4Addr::new(b[0], b[1], b[2], b[3]));
        }
        rtype::EUI48 | rtype::EUI64 => {
            let n = if rt == rtype::EUI48 { 6 } else { 8 };
            fixed(d, n, &format!("an {} address", type_name(rt)))?;
            for (i, b) in c.bytes(n, "address")?.iter().enumerate() {
                if i > 0 {
                    s.putc('-');
                }
                out!(s, "{b:02x}");
            }
        }
        SINK => {
            let (meaning, coding, sub) = (c.u8("meaning")?, c.u8("coding")?, c.u8("subcoding")?);
            out!(s, "{meaning} {coding} {sub}");
            let data = c.rest();
            if !data.is_empty() {
                out!(s, " {}", BASE64.encode(data));
            }
        }
        DOA => {
            let (ent, ty, loc) = (c.u32("enterprise")?, c.u32("type")?, c.u8("location")?);
            out!(s, "{ent} {ty} {loc} ");
            push_quoted(s, c.charstr("media type")?);
            let data = c.rest();
            if data.is_empty() {
                s.put(" -");
            } else {
                out!(s, " {}", BASE64.encode(data));
            }
        }
        AMTRELAY => {
            let prec = c.u8("precedence")?;
            let dt = c.u8("discovery and relay type")?;
            let ty = dt & 0x7f;
            out!(s, "{prec} {} {ty} ", dt >> 7);
            if ty > 3 {
                // An unknown relay type: opaque.
                c.rest();
                generic = true;
            } else {
                gateway(s, &mut c, ty, dots)?;
            }
        }
        _ => return Err(Bad::NotOurs),
    }
    c.end()?;
    if generic {
        return Err(Bad::NotOurs);
    }
    Ok(())
}

const X25: u16 = 19;
const ISDN: u16 = 20;
const NSAP: u16 = 22;
const NSAP_PTR: u16 = 23;
const GPOS: u16 = 27;
const EID: u16 = 31;
const ATMA: u16 = 34;
const A6: u16 = 38;
const NIMLOC: u16 = 32;
const SINK: u16 = 40;
const NINFO: u16 = 56;
const RKEY: u16 = 57;
const TALINK: u16 = 58;
const AVC: u16 = 258;
const DOA: u16 = 259;
const AMTRELAY: u16 = 260;
const RESINFO: u16 = 261;
const DSYNC: u16 = 66;
const HHIT: u16 = 67;
const BRID: u16 = 68;
const WALLET: u16 = 262;
const TA: u16 = 32768;
const DLV: u16 = 32769;

/// The gateway of IPSECKEY (RFC 4025 §2.5) and the relay of AMTRELAY (RFC 8777 §4.2): none
/// (`.`), IPv4, IPv6 or an uncompressed name, by `kind`.
fn gateway(s: &mut impl Out, c: &mut Cursor<'_>, kind: u8, dots: Dots) -> R<()> {
    match kind {
        0 => s.putc('.'),
        1 => {
            let a = c.bytes(4, "IPv4 gateway")?;
            out!(s, "{}", Ipv4Addr::new(a[0], a[1], a[2], a[3]));
        }
        2 => {
            let a: [u8; 16] = c.bytes(16, "IPv6 gateway")?.try_into().map_err(|_| bad("bad gateway"))?;
            out!(s, "{}", ipv6(a));
        }
        3 => c.name("gateway", dots, s)?,
        k => return Err(bad(format!("gateway type {k} is not 0, 1, 2 or 3"))),
    }
    Ok(())
}

/// NSEC3 salt (RFC 5155 §3.3): hex, or `-` when empty.
fn salt_field(b: &[u8]) -> String {
    if b.is_empty() {
        "-".into()
    } else {
        HEXUPPER.encode(b)
    }
}

/// The type bitmap of NSEC/NSEC3/CSYNC (RFC 4034 §4.1.2): window blocks in increasing order, each
/// with 1–32 bitmap bytes, the last not zero. Appends ` TYPE` for every bit set.
fn push_bitmap(s: &mut impl Out, mut d: &[u8]) -> R<()> {
    let mut last_window: Option<u8> = None;
    while !d.is_empty() {
        let [window, len, rest @ ..] = d else {
            return Err(bad("the type bitmap ends inside a window header"));
        };
        let len = usize::from(*len);
        if len == 0 || len > 32 || last_window.is_some_and(|w| w >= *window) {
            return Err(bad(format!("window {window} of the type bitmap is empty, too long or out of order")));
        }
        let bits = rest.get(..len).ok_or_else(|| bad(format!("window {window} of the type bitmap is cut off")))?;
        // "Trailing zero octets in the bitmap MUST be omitted" (RFC 4034 §4.1.2), and so a window
        // with no types: its text would read back without it, another record. BIND refuses it too.
        if bits.last() == Some(&0) {
            return Err(bad(format!("window {window} of the type bitmap ends in a zero byte")));
        }
        for (i, byte) in bits.iter().enumerate() {
            for bit in 0..8 {
                if byte & (0x80 >> bit) != 0 {
                    let t = (u16::from(*window) << 8) | (i * 8 + bit) as u16;
                    out!(s, " {}", type_name(t));
                }
            }
        }
        last_window = Some(*window);
        d = &rest[len..];
    }
    Ok(())
}

/// SvcParamKey mnemonics (RFC 9460 §14.3.2) that BIND 9.18 and other common tools read; every
/// other key in the always-valid `keyNNNNN` form (RFC 9460 §2.1), `key7` and `key8` included.
fn svc_key_name(key: u16) -> Cow<'static, str> {
    match key {
        0 => "mandatory".into(),
        1 => "alpn".into(),
        2 => "no-default-alpn".into(),
        3 => "port".into(),
        4 => "ipv4hint".into(),
        5 => "ech".into(),
        6 => "ipv6hint".into(),
        k => format!("key{k}").into(),
    }
}

/// SvcParams (RFC 9460 §2.2): keys strictly increasing, each `key=value` in the §7 forms;
/// other keys as `keyNNNNN="…"`.
fn push_svc_params(s: &mut impl Out, d: &[u8]) -> R<()> {
    let mut c = Cursor::new(d);
    let mut last: Option<u16> = None;
    let mut mandatory: &[u8] = &[];
    let mut present: Vec<u16> = Vec::new();
    while !c.done() {
        let key = c.u16("SvcParamKey")?;
        if last.is_some_and(|l| l >= key) {
            return Err(bad(format!("SvcParamKey {key} is not in increasing order")));
        }
        last = Some(key);
        present.push(key);
        let len = usize::from(c.u16("SvcParamValue length")?);
        let v = c.bytes(len, &format!("value of SvcParamKey {key}"))?;
        let wrong = || bad(format!("the value of SvcParam {} is malformed", svc_key_name(key)));
        s.putc(' ');
        s.put(&svc_key_name(key));
        match key {
            0 => {
                // RFC 9460 §8: keys in increasing order, not `mandatory` itself.
                let keys: Vec<u16> = v.chunks_exact(2).map(|k| u16::from_be_bytes([k[0], k[1]])).collect();
                if v.is_empty() || v.len() % 2 != 0 || keys[0] == 0 || keys.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(wrong());
                }
                mandatory = v;
                s.putc('=');
                for (i, k) in v.chunks_exact(2).enumerate() {
                    if i > 0 {
                        s.putc(',');
                    }
                    s.put(&svc_key_name(u16::from_be_bytes([k[0], k[1]])));
                }
            }
            1 => {
                // A value-list (RFC 9460 Appendix A.1): commas inside an ID are escaped as
                // `\,`, and that backslash is itself escaped inside the quoted string.
                let mut vc = Cursor::new(v);
                if vc.done() {
                    return Err(wrong());
                }
                s.put("=\"");
                let mut first = true;
                while !vc.done() {
                    let id = vc.charstr("ALPN ID")?;
                    if id.is_empty() {
                        return Err(wrong());
                    }
                    if !first {
                        s.putc(',');
                    }
                    first = false;
                    for &b in id {
                        match b {
                            b',' => s.put("\\\\,"),
                            b'\\' => s.put("\\\\\\\\"),
                            b'"' => s.put("\\\""),
                            0x20..=0x7e => s.putc(char::from(b)),
                            _ => out!(s, "\\{b:03}"),
                        }
                    }
                }
                s.putc('"');
            }
            2 => {
                if !v.is_empty() {
                    return Err(wrong());
                }
            }
            3 => {
                let b: [u8; 2] = v.try_into().map_err(|_| wrong())?;
                out!(s, "={}", u16::from_be_bytes(b));
            }
            4 => {
                if v.is_empty() || v.len() % 4 != 0 {
                    return Err(wrong());
                }
                s.putc('=');
                for (i, a) in v.chunks_exact(4).enumerate() {
                    if i > 0 {
                        s.putc(',');
                    }
                    out!(s, "{}", Ipv4Addr::new(a[0], a[1], a[2], a[3]));
                }
            }
            5 => {
                if v.is_empty() {
                    return Err(wrong());
                }
                out!(s, "={}", BASE64.encode(v));
            }
            6 => {
                if v.is_empty() || v.len() % 16 != 0 {
                    return Err(wrong());
                }
                s.putc('=');
                for (i, a) in v.chunks_exact(16).enumerate() {
                    if i > 0 {
                        s.putc(',');
                    }
                    let b: [u8; 16] = a.try_into().map_err(|_| wrong())?;
                    out!(s, "{}", ipv6(b));
                }
            }
            _ => {
                // BIND 9.18 reads `key7` (dohpath, RFC 9461 §5) only as a relative URI template
                // with the `dns` variable.
                let dohpath = |v: &[u8]| {
                    v.first() == Some(&b'/') && std::str::from_utf8(v).is_ok() && v.windows(6).any(|w| w == b"{?dns}")
                };
                if key == 7 && !dohpath(v) {
                    return Err(bad("the dohpath (key7) is not a URI template starting with `/` holding `{?dns}`"));
                }
                if !v.is_empty() {
                    s.putc('=');
                    push_quoted(s, v);
                }
            }
        }
    }
    for k in mandatory.chunks_exact(2).map(|k| u16::from_be_bytes([k[0], k[1]])) {
        if !present.contains(&k) {
            return Err(bad(format!("SvcParam {} is mandatory but absent", svc_key_name(k))));
        }
    }
    Ok(())
}

fn timestamp(t: u32) -> String {
    let secs = u64::from(t);
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}{month:02}{day:02}{:02}{:02}{:02}", rem / 3600, (rem / 60) % 60, rem % 60)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use crate::wire::class;

    fn n(s: &str) -> Vec<u8> {
        Name::from_ascii(s).unwrap_or_else(|e| panic!("{e}")).as_wire().to_vec()
    }

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    fn rec(owner: &str, rt: u16, rdata: Vec<u8>) -> Record {
        Record {
            owner: Name::from_ascii(owner).unwrap_or_else(|e| panic!("{e}")),
            rtype: rt,
            class: class::IN,
            ttl: 3600,
            rdata,
        }
    }

    #[test]
    fn type_and_class_names_go_both_ways_including_generic_forms() {
        assert_eq!(type_name(rtype::MX), "MX");
        assert_eq!(type_name(65400), "TYPE65400");
        assert_eq!(type_from_name("mx"), Some(15));
        assert_eq!(type_from_name("type65400"), Some(65400));
        assert_eq!(type_from_name("TYPE70000"), None);
        assert_eq!(type_from_name("TYPE"), None);
        assert_eq!(type_from_name("BOGUS"), None);
        assert_eq!(class_name(1), "IN");
        assert_eq!(class_name(42), "CLASS42");
        assert_eq!(class_from_name("in"), Some(1));
        assert_eq!(class_from_name("CLASS42"), Some(42));
    }

    #[test]
    fn addresses_and_names_print_as_dig_does() {
        assert_eq!(rdata_to_text(rtype::A, &[192, 0, 2, 1]), "192.0.2.1");
        let mut v6 = [0u8; 16];
        v6[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        v6[15] = 1;
        assert_eq!(rdata_to_text(rtype::AAAA, &v6), "2001:db8::1");
        for t in [rtype::NS, rtype::CNAME, rtype::DNAME, rtype::PTR] {
            assert_eq!(rdata_to_text(t, &n("ns1.example.test")), "ns1.example.test.");
        }
        assert_eq!(rdata_to_text(rtype::MX, &cat(&[&[0, 10], &n("mail.example.test")])), "10 mail.example.test.");
        assert_eq!(
            rdata_to_text(
                rtype::SOA,
                &cat(&[
                    &n("ns1.example.test"),
                    &n("hostmaster.example.test"),
                    &2024010101u32.to_be_bytes(),
                    &3600u32.to_be_bytes(),
                    &600u32.to_be_bytes(),
                    &86400u32.to_be_bytes(),
                    &300u32.to_be_bytes(),
                ])
            ),
            "ns1.example.test. hostmaster.example.test. 2024010101 3600 600 86400 300"
        );
        assert_eq!(
            rdata_to_text(rtype::SRV, &cat(&[&[0, 1, 0, 5, 0x13, 0xc4], &n("sip.example.test")])),
            "1 5 5060 sip.example.test."
        );
        assert_eq!(rdata_to_text(rtype::RP, &cat(&[&n("admin.example.test"), &n(".")])), "admin.example.test. .");
    }

    #[test]
    fn txt_quotes_each_string_and_escapes_quotes_backslashes_and_non_ascii() {
        let rd = cat(&[&[10], b"say \"hi\"\\x", &[0], &[4], "é;\t".as_bytes()]);
        assert_eq!(rdata_to_text(rtype::TXT, &rd), r#""say \"hi\"\\x" "" "\195\169;\009""#);
        assert_eq!(rdata_to_text(rtype::SPF, b"\x0bv=spf1 -all"), "\"v=spf1 -all\"");
        // Zero strings, or a string running past the end, fall back to the generic form.
        assert_eq!(rdata_to_text(rtype::TXT, b""), "\\# 0");
        assert_eq!(rdata_to_text(rtype::TXT, b"\x05ab"), "\\# 3 056162");
        assert_eq!(rdata_to_text(rtype::HINFO, b"\x03x86\x05Linux"), "\"x86\" \"Linux\"");
    }

    #[test]
    fn unknown_types_and_empty_rdata_use_the_rfc3597_form() {
        assert_eq!(rdata_to_text(65400, &[]), "\\# 0");
        assert_eq!(rdata_to_text(65400, &[0xde, 0xad]), "\\# 2 DEAD");
        // A known type whose RDATA does not fit is not lost either.
        assert_eq!(rdata_to_text(rtype::A, &[1, 2, 3]), "\\# 3 010203");
        assert_eq!(rdata_to_text(rtype::LOC, &[1; 16]), format!("\\# 16 {}", "01".repeat(16)));
        assert_eq!(record_to_line(&rec("x.example.test", 65400, vec![])), "x.example.test. 3600 IN TYPE65400 \\# 0");
    }

    #[test]
    fn caa_naptr_sshfp_tlsa_and_ds_print_their_fields() {
        assert_eq!(rdata_to_text(rtype::CAA, b"\x00\x05issueletsencrypt.org"), "0 issue \"letsencrypt.org\"");
        assert_eq!(rdata_to_text(rtype::CAA, b"\x00\x00x"), "\\# 3 000078");
        assert_eq!(
            rdata_to_text(
                rtype::NAPTR,
                &cat(&[&[0, 100, 0, 10], b"\x01U", b"\x07E2U+sip", b"\x0d!^.*$!sip:x!\\", &[0]])
            ),
            "100 10 \"U\" \"E2U+sip\" \"!^.*$!sip:x!\\\\\" ."
        );
        assert_eq!(rdata_to_text(rtype::SSHFP, &[4, 3, 0xab, 0xcd]), "4 3 ABCD");
        // A SHA-256 fingerprint is 32 bytes (BIND refuses any other length).
        assert_eq!(rdata_to_text(rtype::SSHFP, &cat(&[&[4, 2], &[0xab; 32]])), format!("4 2 {}", "AB".repeat(32)));
        assert_eq!(
            check_rdata(rtype::SSHFP, &[4, 2, 0xab, 0xcd]).map_err(|e| e.to_string()),
            Err("the digest is 2 bytes, a SHA-256 digest is 32".into())
        );
        assert_eq!(rdata_to_text(rtype::TLSA, &[3, 1, 1, 0x01, 0xff]), "3 1 1 01FF");
        assert_eq!(rdata_to_text(rtype::SMIMEA, &[3, 1, 1, 0x01]), "3 1 1 01");
        assert_eq!(rdata_to_text(rtype::DS, &[0x30, 0x39, 13, 3, 0xbe, 0x74]), "12345 13 3 BE74");
        assert!(rdata_to_text(rtype::DS, &[0x30, 0x39, 13, 2, 0xbe, 0x74]).starts_with("\\#"));
        assert_eq!(rdata_to_text(rtype::CDS, &[0, 0, 0, 0, 0]), "0 0 0 00", "CDS delete form");
    }

    #[test]
    fn dnssec_records_print_like_dig_with_unbroken_base64() {
        let key = cat(&[&[1, 1, 3, 13], &[0xaa; 64]]);
        assert_eq!(rdata_to_text(rtype::DNSKEY, &key), format!("257 3 13 {}", BASE64.encode(&[0xaa; 64])));
        assert!(rdata_to_text(rtype::CDNSKEY, &key).starts_with("257 3 13 qqqq"));
        // A KEY flagged "no key" (0xC000) has no key field, as BIND writes and reads it; one
        // with a key after such flags is refused by BIND in any form (found by the fuzzer).
        assert_eq!(rdata_to_text(rtype::KEY, &[0xc0, 0, 3, 13]), "49152 3 13");
        assert!(check_rdata(rtype::KEY, &[0xcb, 0, 3, 13, 1, 2, 3]).is_err());
        assert!(check_rdata(rtype::DNSKEY, &[0xc0, 0, 3, 13]).is_err(), "DNSKEY has no such flag");
        let sig = cat(&[
            &rtype::A.to_be_bytes(),
            &[13, 3],
            &3600u32.to_be_bytes(),
            &1_704_067_200u32.to_be_bytes(), // 2024-01-01 00:00:00
            &1_701_388_800u32.to_be_bytes(), // 2023-12-01 00:00:00
            &[0x30, 0x39],
            &n("example.test"),
            &[1, 2, 3],
        ]);
        assert_eq!(
            rdata_to_text(rtype::RRSIG, &sig),
            "A 13 3 3600 20240101000000 20231201000000 12345 example.test. AQID"
        );
        // A, MX, RRSIG, NSEC in window 0; the first type of window 255 is 65280.
        let nsec = cat(&[&n("b.example.test"), &[0, 6, 0x40, 0x01, 0, 0, 0, 0x03], &[0xff, 1, 0x80]]);
        assert_eq!(rdata_to_text(rtype::NSEC, &nsec), "b.example.test. A MX RRSIG NSEC TYPE65280");
        // Types 100-103 (UINFO, UID, GID, UNSPEC) by name, as BIND prints them (found by the fuzzer).
        let nsec = cat(&[&n("b.example.test"), &[0, 13, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x1f]]);
        assert_eq!(rdata_to_text(rtype::NSEC, &nsec), "b.example.test. SPF UINFO UID GID UNSPEC");
        assert_eq!(type_from_name("uid"), Some(101));
        // Windows out of order are not valid.
        assert!(rdata_to_text(rtype::NSEC, &cat(&[&n("."), &[1, 1, 0x80, 0, 1, 0x40]])).starts_with("\\#"));
        let nsec3 = cat(&[&[1, 1, 0, 10, 2, 0xab, 0xcd, 20], &[0x11; 20], &[0, 1, 0x40]]);
        assert_eq!(
            rdata_to_text(rtype::NSEC3, &nsec3),
            format!("1 1 10 ABCD {} A", BASE32HEX_NOPAD.encode(&[0x11; 20]))
        );
        assert_eq!(rdata_to_text(rtype::NSEC3PARAM, &[1, 0, 0, 0, 0]), "1 0 0 -");
    }

    #[test]
    fn svcb_and_https_params_print_in_rfc9460_form() {
        let mut rd = cat(&[&[0, 1], &n(".")]);
        rd.extend_from_slice(&[0, 0, 0, 2, 0, 1]); // mandatory=alpn
        rd.extend_from_slice(&[0, 1, 0, 6, 2, b'h', b'2', 2, b'h', b'3']); // alpn
        rd.extend_from_slice(&[0, 2, 0, 0]); // no-default-alpn
        rd.extend_from_slice(&[0, 3, 0, 2, 0x01, 0xbb]); // port=443
        rd.extend_from_slice(&[0, 4, 0, 8, 192, 0, 2, 1, 192, 0, 2, 2]);
        rd.extend_from_slice(&[0, 5, 0, 3, 1, 2, 3]); // ech
        rd.extend_from_slice(&[0, 6, 0, 16, 0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        rd.extend_from_slice(&[0xff, 0x78, 0, 2, b'a', b'"']); // key65400
        assert_eq!(
            rdata_to_text(rtype::HTTPS, &rd),
            "1 . mandatory=alpn alpn=\"h2,h3\" no-default-alpn port=443 \
             ipv4hint=192.0.2.1,192.0.2.2 ech=AQID ipv6hint=2001:db8::1 key65400=\"a\\\"\""
        );
        let svcb = cat(&[&[0, 0], &n("svc.example.test")]);
        assert_eq!(rdata_to_text(rtype::SVCB, &svcb), "0 svc.example.test.");
        // Keys out of order are malformed.
        let bad = cat(&[&[0, 1], &n("."), &[0, 3, 0, 2, 0, 1, 0, 1, 0, 1, 1, b'x']]);
        assert!(rdata_to_text(rtype::HTTPS, &bad).starts_with("\\#"));
    }

    #[test]
    fn svcb_keys_bind_9_18_does_not_name_are_written_as_key_numbers() {
        let https = |params: &[u8]| cat(&[&[0, 1], &n("."), params]);
        // key8 (ohttp): BIND 9.18 refuses the name `ohttp`.
        assert_eq!(rdata_to_text(rtype::HTTPS, &https(&[0, 8, 0, 0])), "1 . key8");
        assert_eq!(rdata_to_text(rtype::HTTPS, &https(&[0, 0, 0, 2, 0, 8, 0, 8, 0, 0])), "1 . mandatory=key8 key8");
        // key7 (dohpath) is kept only as a URI template, as BIND 9.18 requires.
        let doh = cat(&[&[0, 7, 0, 16], b"/dns-query{?dns}"]);
        assert_eq!(rdata_to_text(rtype::HTTPS, &https(&doh)), "1 . key7=\"/dns-query{?dns}\"");
        let bad = cat(&[&[0, 7, 0, 10], b"/dns-query"]);
        assert!(check_rdata(rtype::HTTPS, &https(&bad)).is_err());
        // A mandatory key that is absent.
        assert!(check_rdata(rtype::HTTPS, &https(&[0, 0, 0, 2, 0, 3])).is_err());
    }

    #[test]
    fn types_bind_prints_in_their_own_form_print_as_bind_prints_them() {
        let cases: &[(u16, Vec<u8>, &str)] = &[
            (rtype::WKS, vec![192, 0, 2, 1, 6, 0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80], "192.0.2.1 6 1 80"),
            (
                rtype::LOC,
                cat(&[
                    &[0, 0x12, 0x16, 0x13],
                    &0x8b3c_f018u32.to_be_bytes(),
                    &0x810c_bce0u32.to_be_bytes(),
                    &9_999_800u32.to_be_bytes(),
                ]),
                "52 22 23.000 N 4 53 32.000 E -2.00m 1m 10000m 10m",
            ),
            (rtype::CERT, cat(&[&[0, 1, 0x30, 0x39, 8], &[1, 2, 3, 4]]), "PKIX 12345 RSASHA256 AQIDBA=="),
            (
                rtype::APL,
                cat(&[&[0, 1, 24, 3, 192, 0, 2], &[0, 2, 32, 0x84, 0x20, 0x01, 0x0d, 0xb8]]),
                "1:192.0.2.0/24 !2:2001:db8::/32",
            ),
            (rtype::IPSECKEY, vec![10, 1, 2, 192, 0, 2, 38, 1, 2, 3], "10 1 2 192.0.2.38 AQID"),
            (rtype::IPSECKEY, cat(&[&[10, 2, 2], &[0; 12], &[0x40, 0, 0, 0], &[1, 2]]), "10 2 2 ::64.0.0.0 AQI="),
            (
                rtype::HIP,
                cat(&[&[4, 2, 0, 3, 1, 2, 3, 4, 10, 11, 12], &n("rvs.example")]),
                "2 01020304 CgsM rvs.example.",
            ),
            (rtype::NID, vec![0, 10, 0, 0x14, 0x4f, 0xff, 0xff, 0x20, 0xee, 0x64], "10 14:4fff:ff20:ee64"),
            (rtype::L32, vec![0, 10, 10, 1, 2, 0], "10 10.1.2.0"),
            (rtype::L64, vec![0, 10, 0x20, 0x01, 0x0d, 0xb8, 0x11, 0x4f, 0xa0, 0], "10 2001:db8:114f:a000"),
            (rtype::LP, cat(&[&[0, 10], &n("l64.example")]), "10 l64.example."),
            (rtype::EUI48, vec![0, 0, 0x5e, 0, 0x53, 0xff], "00-00-5e-00-53-ff"),
            (rtype::EUI64, vec![0, 0, 0x5e, 0, 0, 0, 0, 1], "00-00-5e-00-00-00-00-01"),
            (27, b"\x03-32\x05116.8\x0410.0".to_vec(), "\"-32\" \"116.8\" \"10.0\""),
            (34, b"\x0114155551212".to_vec(), "+14155551212"),
            (38, cat(&[&[64], &[0, 0, 0, 0, 0, 0, 0, 1], &n("prefix.example")]), "64 ::1 prefix.example."),
            (260, vec![10, 0x81, 192, 0, 2, 1], "10 1 1 192.0.2.1"),
            (66, cat(&[&[0, 59, 1, 0x14, 0xb4], &n("notify.example")]), "CDS NOTIFY 5300 notify.example."),
        ];
        for (t, rd, text) in cases {
            assert_eq!(rdata_to_text(*t, rd), *text, "{}", type_name(*t));
            assert_eq!(check_rdata(*t, rd), Ok(()));
        }
        // What BIND refuses, we refuse, saying why.
        let why = |t: u16, rd: &[u8]| check_rdata(t, rd).map_err(|e| e.to_string()).err();
        assert_eq!(why(rtype::LOC, &[0; 15]).as_deref(), Some("RDLENGTH is 15, a LOC record is 16 bytes"));
        assert_eq!(why(rtype::EUI48, &[0; 5]).as_deref(), Some("RDLENGTH is 5, an EUI48 address is 6 bytes"));
        // Addresses are checked by their length alone.
        assert_eq!(check_rdata(rtype::A, &[192, 0, 2, 1]), Ok(()));
        assert_eq!(check_rdata(rtype::AAAA, &[0xff; 16]), Ok(()));
        assert_eq!(why(rtype::A, &[192, 0, 2]).as_deref(), Some("RDLENGTH is 3, an IPv4 address is 4 bytes"));
        assert_eq!(why(rtype::AAAA, &[0; 17]).as_deref(), Some("RDLENGTH is 17, an IPv6 address is 16 bytes"));
        assert!(why(rtype::WKS, &[1, 2, 3, 4, 6, 0x40, 0]).is_some(), "a bitmap ending in a zero byte");
        assert!(why(rtype::IPSECKEY, &[10, 0, 2]).is_some(), "no public key");
        // A CSYNC whose last window has no types (a fuzz finding: its text lost the window).
        let csync = [0, 0, 0, 0xff, 0, 0x30, 8, 4, 0x60, 0x7f, 0x7f, 0x7f, 0xa4, 1, 0];
        assert_eq!(why(62, &csync).as_deref(), Some("window 164 of the type bitmap ends in a zero byte"));
        assert_eq!(check_rdata(62, &csync[..12]), Ok(()));
        assert!(why(rtype::NSEC, &cat(&[&n("a.example"), &[0, 2, 0x40, 0]])).is_some(), "NSEC, a trailing zero byte");
        assert!(why(130, &[]).is_some(), "a meta-type");
        // Other LOC versions and APL families are opaque: kept, in the RFC 3597 form.
        assert_eq!(rdata_to_text(rtype::LOC, &[1, 2, 3]), "\\# 3 010203");
        assert_eq!(check_rdata(rtype::LOC, &[1, 2, 3]), Ok(()));
    }

    #[test]
    fn record_lines_have_absolute_owners() {
        let r = rec("www.example.test", rtype::A, vec![192, 0, 2, 7]);
        assert_eq!(record_to_line(&r), "www.example.test. 3600 IN A 192.0.2.7");
    }

    #[test]
    fn dnsimple_content_splits_priority_and_drops_trailing_dots() {
        let mx = rec("example.test", rtype::MX, cat(&[&[0, 10], &n("mail.example.test")]));
        assert_eq!(dnsimple_content(&mx), ("mail.example.test".into(), Some(10)));
        let srv = rec("_sip._tcp.example.test", rtype::SRV, cat(&[&[0, 1, 0, 5, 0x13, 0xc4], &n("sip.example.test")]));
        assert_eq!(dnsimple_content(&srv), ("5 5060 sip.example.test".into(), Some(1)));
        let cname = rec("www.example.test", rtype::CNAME, n("example.test"));
        assert_eq!(dnsimple_content(&cname), ("example.test".into(), None));
        let txt = rec("example.test", rtype::TXT, b"\x02a \x01b".to_vec());
        assert_eq!(dnsimple_content(&txt), ("\"a \" \"b\"".into(), None));
        let unknown = rec("example.test", 65400, vec![]);
        assert_eq!(dnsimple_content(&unknown), ("\\# 0".into(), None));
        let broken_mx = rec("example.test", rtype::MX, vec![0]);
        assert_eq!(dnsimple_content(&broken_mx), ("\\# 1 00".into(), None));
    }

    #[test]
    fn no_rdata_of_any_type_makes_the_printer_panic() {
        // Every type number with a spread of short and odd RDATA shapes.
        let samples: Vec<Vec<u8>> = vec![
            vec![],
            vec![0],
            vec![0xff; 3],
            vec![0xc0, 0x0c],
            vec![1, b'a', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            (0..=255).collect(),
        ];
        for t in (0..=300).chain([32768, 65535]) {
            for s in &samples {
                let text = rdata_to_text(t, s);
                // An APL record of no items is empty text, as BIND prints it.
                assert!(!text.is_empty() || (t == rtype::APL && s.is_empty()));
                let _ = dnsimple_content(&rec("x.test", t, s.clone()));
            }
        }
    }
}
