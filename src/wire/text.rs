//! Presentation format of records (RFC 1035 §5.1, RFC 3597 §5), as `dig` prints it and BIND's
//! `named-checkzone` reads it, plus the DNSimple API's `content`/`priority` split.
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
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use data_encoding::{BASE32HEX_NOPAD, BASE64, HEXUPPER};

use super::message::{skip_uncompressed_name, Record};
use super::name::{push_ddd, Name};
use super::types::rtype;
pub use super::types::{class_from_name, class_name, type_from_name, type_name};

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

/// The RDATA in master-file form; the RFC 3597 generic form for unknown types or RDATA that does
/// not parse as its type.
pub fn rdata_to_text(rtype: u16, rdata: &[u8]) -> String {
    render(rtype, rdata, Dots::Absolute).unwrap_or_else(|| generic(rdata))
}

/// The DNSimple ZoneRecord `content` and `priority` of a record: names without their trailing
/// dot (the root stays `.`); MX → (exchange, preference); SRV → ("weight port target",
/// priority); everything else the master-file RDATA.
///
/// TXT and SPF content keeps master-file quoting (`"v=spf1 -all"`, several strings as
/// `"a" "b"`), so strings with spaces, quotes or non-ASCII bytes survive a round trip.
pub fn dnsimple_content(r: &Record) -> (String, Option<u32>) {
    let d = &r.rdata;
    let split = match r.rtype {
        rtype::MX => {
            let mut c = Cursor::new(d);
            c.u16().zip(c.name(Dots::Relative)).filter(|_| c.done()).map(|(pref, name)| (name, Some(u32::from(pref))))
        }
        rtype::SRV => {
            let mut c = Cursor::new(d);
            (|| {
                let (prio, weight, port) = (c.u16()?, c.u16()?, c.u16()?);
                let target = c.name(Dots::Relative)?;
                c.done().then(|| (format!("{weight} {port} {target}"), Some(u32::from(prio))))
            })()
        }
        _ => render(r.rtype, d, Dots::Relative).map(|s| (s, None)),
    };
    split.unwrap_or_else(|| (generic(d), None))
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

/// A bounds-checked reader over RDATA; every method returns `None` past the end.
struct Cursor<'a> {
    d: &'a [u8],
    p: usize,
}

impl<'a> Cursor<'a> {
    fn new(d: &'a [u8]) -> Cursor<'a> {
        Cursor { d, p: 0 }
    }
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let b = self.d.get(self.p..self.p.checked_add(n)?)?;
        self.p += n;
        Some(b)
    }
    fn u8(&mut self) -> Option<u8> {
        self.bytes(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.bytes(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.bytes(4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn rest(&mut self) -> &'a [u8] {
        let r = self.d.get(self.p..).unwrap_or(&[]);
        self.p = self.d.len();
        r
    }
    fn done(&self) -> bool {
        self.p == self.d.len()
    }
    /// A `<character-string>` (RFC 1035 §3.3): a length byte and that many bytes.
    fn charstr(&mut self) -> Option<&'a [u8]> {
        let n = usize::from(self.u8()?);
        self.bytes(n)
    }
    /// An uncompressed name, in presentation form.
    fn name(&mut self, dots: Dots) -> Option<String> {
        let end = skip_uncompressed_name(self.d, self.p)?;
        let name = Name::from_wire(&self.d[self.p..end]).ok()?;
        self.p = end;
        let mut s = name.to_string();
        if dots == Dots::Relative && s.len() > 1 {
            s.pop();
        }
        Some(s)
    }
}

/// A quoted `<character-string>` as dig writes it: `\"` and `\\`, `\DDD` for bytes outside
/// printable ASCII (so non-ASCII UTF-8 shows as `\DDD` sequences, byte-exact).
fn push_quoted(out: &mut String, s: &[u8]) {
    out.push('"');
    for &b in s {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7e => out.push(char::from(b)),
            _ => push_ddd(out, b),
        }
    }
    out.push('"');
}

/// The type-specific presentation; `None` when the RDATA does not fit the type.
fn render(rt: u16, d: &[u8], dots: Dots) -> Option<String> {
    let mut c = Cursor::new(d);
    let mut s = String::with_capacity(d.len() * 2 + 8);
    match rt {
        rtype::A => {
            let b = c.bytes(4)?;
            let _ = write!(s, "{}", Ipv4Addr::new(b[0], b[1], b[2], b[3]));
        }
        rtype::AAAA => {
            let b: [u8; 16] = c.bytes(16)?.try_into().ok()?;
            let _ = write!(s, "{}", Ipv6Addr::from(b));
        }
        rtype::NS
        | rtype::MD
        | rtype::MF
        | rtype::CNAME
        | rtype::MB
        | rtype::MG
        | rtype::MR
        | rtype::PTR
        | rtype::DNAME => s.push_str(&c.name(dots)?),
        rtype::MINFO | rtype::RP => {
            let (a, b) = (c.name(dots)?, c.name(dots)?);
            let _ = write!(s, "{a} {b}");
        }
        rtype::MX | rtype::AFSDB | rtype::RT | rtype::KX => {
            let pref = c.u16()?;
            let _ = write!(s, "{pref} {}", c.name(dots)?);
        }
        rtype::PX => {
            let pref = c.u16()?;
            let (a, b) = (c.name(dots)?, c.name(dots)?);
            let _ = write!(s, "{pref} {a} {b}");
        }
        rtype::SOA => {
            let (m, r) = (c.name(dots)?, c.name(dots)?);
            let _ = write!(s, "{m} {r}");
            for _ in 0..5 {
                let _ = write!(s, " {}", c.u32()?);
            }
        }
        rtype::TXT | rtype::SPF => {
            // RFC 1035 §3.3.14: one or more strings; zero strings is not valid TXT.
            if d.is_empty() {
                return None;
            }
            while !c.done() {
                if !s.is_empty() {
                    s.push(' ');
                }
                push_quoted(&mut s, c.charstr()?);
            }
        }
        rtype::HINFO => {
            push_quoted(&mut s, c.charstr()?);
            s.push(' ');
            push_quoted(&mut s, c.charstr()?);
        }
        rtype::SRV => {
            let (p, w, port) = (c.u16()?, c.u16()?, c.u16()?);
            let _ = write!(s, "{p} {w} {port} {}", c.name(dots)?);
        }
        rtype::NAPTR => {
            let (order, pref) = (c.u16()?, c.u16()?);
            let _ = write!(s, "{order} {pref}");
            for _ in 0..3 {
                s.push(' ');
                push_quoted(&mut s, c.charstr()?);
            }
            let _ = write!(s, " {}", c.name(dots)?);
        }
        rtype::CAA => {
            // RFC 8659 §4.1: flags, tag (1–15 ASCII letters and digits), value.
            let flags = c.u8()?;
            let tag = c.charstr()?;
            if tag.is_empty() || tag.len() > 15 || !tag.iter().all(u8::is_ascii_alphanumeric) {
                return None;
            }
            let _ = write!(s, "{flags} {} ", std::str::from_utf8(tag).ok()?);
            push_quoted(&mut s, c.rest());
        }
        rtype::SSHFP => {
            let (alg, fp) = (c.u8()?, c.u8()?);
            let _ = write!(s, "{alg} {fp} {}", hex_field(c.rest())?);
        }
        rtype::TLSA | rtype::SMIMEA => {
            let (u, sel, m) = (c.u8()?, c.u8()?, c.u8()?);
            let _ = write!(s, "{u} {sel} {m} {}", hex_field(c.rest())?);
        }
        rtype::DS | rtype::CDS => {
            let (tag, alg, dt) = (c.u16()?, c.u8()?, c.u8()?);
            let _ = write!(s, "{tag} {alg} {dt} {}", hex_field(c.rest())?);
        }
        rtype::DNSKEY | rtype::CDNSKEY | rtype::KEY => {
            let (flags, proto, alg) = (c.u16()?, c.u8()?, c.u8()?);
            let _ = write!(s, "{flags} {proto} {alg} {}", b64_field(c.rest())?);
        }
        rtype::RRSIG => {
            let covered = c.u16()?;
            let (alg, labels) = (c.u8()?, c.u8()?);
            let (ttl, exp, inc) = (c.u32()?, c.u32()?, c.u32()?);
            let tag = c.u16()?;
            let signer = c.name(dots)?;
            let _ = write!(
                s,
                "{} {alg} {labels} {ttl} {} {} {tag} {signer} {}",
                type_name(covered),
                timestamp(exp),
                timestamp(inc),
                b64_field(c.rest())?
            );
        }
        rtype::NSEC => {
            s.push_str(&c.name(dots)?);
            push_bitmap(&mut s, c.rest())?;
        }
        rtype::NSEC3 => {
            let (alg, flags, iter) = (c.u8()?, c.u8()?, c.u16()?);
            let salt = c.charstr()?;
            let next = c.charstr()?;
            if next.is_empty() {
                return None;
            }
            let _ = write!(s, "{alg} {flags} {iter} {} {}", salt_field(salt), BASE32HEX_NOPAD.encode(next));
            push_bitmap(&mut s, c.rest())?;
        }
        rtype::NSEC3PARAM => {
            let (alg, flags, iter) = (c.u8()?, c.u8()?, c.u16()?);
            let salt = c.charstr()?;
            let _ = write!(s, "{alg} {flags} {iter} {}", salt_field(salt));
        }
        rtype::SVCB | rtype::HTTPS => {
            let prio = c.u16()?;
            let _ = write!(s, "{prio} {}", c.name(dots)?);
            push_svc_params(&mut s, c.rest())?;
        }
        rtype::OPENPGPKEY | rtype::DHCID => s.push_str(&b64_field(c.rest())?),
        rtype::URI => {
            let (prio, weight) = (c.u16()?, c.u16()?);
            let _ = write!(s, "{prio} {weight} ");
            let target = c.rest();
            if target.is_empty() {
                return None;
            }
            push_quoted(&mut s, target);
        }
        rtype::ZONEMD => {
            let (serial, scheme, alg) = (c.u32()?, c.u8()?, c.u8()?);
            let _ = write!(s, "{serial} {scheme} {alg} {}", hex_field(c.rest())?);
        }
        rtype::CSYNC => {
            let (serial, flags) = (c.u32()?, c.u16()?);
            let _ = write!(s, "{serial} {flags}");
            push_bitmap(&mut s, c.rest())?;
        }
        _ => return None,
    }
    c.done().then_some(s)
}

/// Hex of a non-empty field (an empty digest or key is not valid presentation).
fn hex_field(b: &[u8]) -> Option<String> {
    (!b.is_empty()).then(|| HEXUPPER.encode(b))
}

fn b64_field(b: &[u8]) -> Option<String> {
    (!b.is_empty()).then(|| BASE64.encode(b))
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
/// with 1–32 bitmap bytes. Appends ` TYPE` for every bit set.
fn push_bitmap(s: &mut String, mut d: &[u8]) -> Option<()> {
    let mut last_window: Option<u8> = None;
    while let [window, len, rest @ ..] = d {
        let len = usize::from(*len);
        if len == 0 || len > 32 || last_window.is_some_and(|w| w >= *window) {
            return None;
        }
        let bits = rest.get(..len)?;
        for (i, byte) in bits.iter().enumerate() {
            for bit in 0..8 {
                if byte & (0x80 >> bit) != 0 {
                    let t = (u16::from(*window) << 8) | (i * 8 + bit) as u16;
                    s.push(' ');
                    s.push_str(&type_name(t));
                }
            }
        }
        last_window = Some(*window);
        d = &rest[len..];
    }
    d.is_empty().then_some(())
}

/// SvcParamKey mnemonics (RFC 9460 §14.3.2).
fn svc_key_name(key: u16) -> Cow<'static, str> {
    match key {
        0 => "mandatory".into(),
        1 => "alpn".into(),
        2 => "no-default-alpn".into(),
        3 => "port".into(),
        4 => "ipv4hint".into(),
        5 => "ech".into(),
        6 => "ipv6hint".into(),
        7 => "dohpath".into(),
        8 => "ohttp".into(),
        k => format!("key{k}").into(),
    }
}

/// SvcParams (RFC 9460 §2.2): keys strictly increasing, each `key=value` in the §7 forms;
/// unrecognised keys as `keyNNNNN="…"`.
fn push_svc_params(s: &mut String, d: &[u8]) -> Option<()> {
    let mut c = Cursor::new(d);
    let mut last: Option<u16> = None;
    while !c.done() {
        let key = c.u16()?;
        if last.is_some_and(|l| l >= key) {
            return None;
        }
        last = Some(key);
        let len = usize::from(c.u16()?);
        let v = c.bytes(len)?;
        s.push(' ');
        s.push_str(&svc_key_name(key));
        match key {
            0 => {
                if v.is_empty() || v.len() % 2 != 0 {
                    return None;
                }
                s.push('=');
                for (i, k) in v.chunks_exact(2).enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    s.push_str(&svc_key_name(u16::from_be_bytes([k[0], k[1]])));
                }
            }
            1 => {
                // A value-list (RFC 9460 Appendix A.1): commas inside an ID are escaped as
                // `\,`, and that backslash is itself escaped inside the quoted string.
                let mut vc = Cursor::new(v);
                let mut ids = String::new();
                while !vc.done() {
                    let id = vc.charstr()?;
                    if id.is_empty() {
                        return None;
                    }
                    if !ids.is_empty() {
                        ids.push(',');
                    }
                    for &b in id {
                        match b {
                            b',' => ids.push_str("\\\\,"),
                            b'\\' => ids.push_str("\\\\\\\\"),
                            b'"' => ids.push_str("\\\""),
                            0x20..=0x7e => ids.push(char::from(b)),
                            _ => push_ddd(&mut ids, b),
                        }
                    }
                }
                if ids.is_empty() {
                    return None;
                }
                let _ = write!(s, "=\"{ids}\"");
            }
            2 => {
                if !v.is_empty() {
                    return None;
                }
            }
            3 => {
                let b: [u8; 2] = v.try_into().ok()?;
                let _ = write!(s, "={}", u16::from_be_bytes(b));
            }
            4 => {
                if v.is_empty() || v.len() % 4 != 0 {
                    return None;
                }
                s.push('=');
                for (i, a) in v.chunks_exact(4).enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    let _ = write!(s, "{}", Ipv4Addr::new(a[0], a[1], a[2], a[3]));
                }
            }
            5 => {
                if v.is_empty() {
                    return None;
                }
                let _ = write!(s, "={}", BASE64.encode(v));
            }
            6 => {
                if v.is_empty() || v.len() % 16 != 0 {
                    return None;
                }
                s.push('=');
                for (i, a) in v.chunks_exact(16).enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    let b: [u8; 16] = a.try_into().ok()?;
                    let _ = write!(s, "{}", Ipv6Addr::from(b));
                }
            }
            _ => {
                if !v.is_empty() {
                    s.push('=');
                    push_quoted(s, v);
                }
            }
        }
    }
    Some(())
}

/// RRSIG time (RFC 4034 §3.2): `YYYYMMDDHHmmSS` in UTC, read as seconds since 1970.
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
        assert_eq!(rdata_to_text(rtype::LOC, &[0; 16]), format!("\\# 16 {}", "00".repeat(16)));
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
        assert_eq!(rdata_to_text(rtype::SSHFP, &[4, 2, 0xab, 0xcd]), "4 2 ABCD");
        assert_eq!(rdata_to_text(rtype::TLSA, &[3, 1, 1, 0x01, 0xff]), "3 1 1 01FF");
        assert_eq!(rdata_to_text(rtype::SMIMEA, &[3, 1, 1, 0x01]), "3 1 1 01");
        assert_eq!(rdata_to_text(rtype::DS, &[0x30, 0x39, 13, 2, 0xbe, 0x74]), "12345 13 2 BE74");
        assert_eq!(rdata_to_text(rtype::CDS, &[0, 0, 0, 0, 0]), "0 0 0 00", "CDS delete form");
    }

    #[test]
    fn dnssec_records_print_like_dig_with_unbroken_base64() {
        let key = cat(&[&[1, 1, 3, 13], &[0xaa; 64]]);
        assert_eq!(rdata_to_text(rtype::DNSKEY, &key), format!("257 3 13 {}", BASE64.encode(&[0xaa; 64])));
        assert!(rdata_to_text(rtype::CDNSKEY, &key).starts_with("257 3 13 qqqq"));
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
        // Windows out of order are not valid.
        assert!(rdata_to_text(rtype::NSEC, &cat(&[&n("."), &[1, 1, 0x80, 0, 1, 0x40]])).starts_with("\\#"));
        let nsec3 = cat(&[&[1, 1, 0, 10, 2, 0xab, 0xcd, 5], &[0x11; 5], &[0, 1, 0x40]]);
        assert_eq!(
            rdata_to_text(rtype::NSEC3, &nsec3),
            format!("1 1 10 ABCD {} A", BASE32HEX_NOPAD.encode(&[0x11; 5]))
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
                assert!(!text.is_empty());
                let _ = dnsimple_content(&rec("x.test", t, s.clone()));
            }
        }
    }
}
