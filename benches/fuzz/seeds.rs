//! The inputs the corpus is written from (`--write-seeds`), built from valid
//! messages and records, and the record builders the targets share.

use secondaryd::wire::{self, class, opcode, rtype, MessageWriter, Name, Record, Section};

pub const ZONE: &str = "example.test";
pub const SIGNED: &str = "signed.test";
pub const OTHER: &str = "other.test";
pub const CHILD: &str = "child.example.test";
/// Created but never loaded: answered SERVFAIL.
pub const NO_COPY: &str = "nocopy.test";

/// The TSIG key of the in-process daemon's config.
pub const KEY_NAME: &str = "fuzz-key";
pub const KEY_SECRET: &str = "ZnV6emluZy1zZWNyZXQtZnV6emluZy1zZWNyZXQ=";

pub fn name(s: &str) -> Name {
    Name::from_ascii(s).expect("a seed name")
}

pub fn rec(owner: &str, rt: u16, rdata: Vec<u8>) -> Record {
    Record { owner: name(owner), rtype: rt, class: class::IN, ttl: 300, rdata }
}

pub fn n(s: &str) -> Vec<u8> {
    name(s).as_wire().to_vec()
}

pub fn soa(zone: &str, serial: u32) -> Record {
    let mut d = n(&format!("ns1.{zone}"));
    d.extend(n(&format!("hostmaster.{zone}")));
    for v in [serial, 3600, 600, 604_800, 300] {
        d.extend_from_slice(&v.to_be_bytes());
    }
    rec(zone, rtype::SOA, d)
}

fn pref_name(pref: u16, target: &str) -> Vec<u8> {
    let mut d = pref.to_be_bytes().to_vec();
    d.extend(n(target));
    d
}

fn txt(parts: &[&str]) -> Vec<u8> {
    let mut d = Vec::new();
    for p in parts {
        d.push(p.len() as u8);
        d.extend_from_slice(p.as_bytes());
    }
    d
}

/// An NSEC's RDATA: the next name and a type bitmap of window 0.
fn nsec(next: &str, types: &[u16]) -> Vec<u8> {
    let mut d = n(next);
    let mut bits = [0u8; 32];
    for &t in types {
        bits[usize::from(t / 8)] |= 0x80 >> (t % 8);
    }
    let used = bits.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    d.extend_from_slice(&[0, used as u8]);
    d.extend_from_slice(&bits[..used]);
    d
}

/// A hand-built RRSIG (nobody verifies it).
fn rrsig(covered: u16, labels: u8, signer: &str) -> Vec<u8> {
    let mut d = covered.to_be_bytes().to_vec();
    d.extend_from_slice(&[13, labels]);
    d.extend_from_slice(&300u32.to_be_bytes());
    d.extend_from_slice(&2_000_000_000u32.to_be_bytes());
    d.extend_from_slice(&1_700_000_000u32.to_be_bytes());
    d.extend_from_slice(&12345u16.to_be_bytes());
    d.extend(n(signer));
    d.extend((0..64u8).map(|i| i.wrapping_mul(37)));
    d
}

/// The records of the in-process daemon's zones; `extra` (records of every
/// type, from the `text` corpus) go under `t<N>.example.test`.
pub fn zones(extra: &[(u16, Vec<u8>)]) -> Vec<(&'static str, Vec<Record>)> {
    let z = ZONE;
    let a = |ip: [u8; 4]| ip.to_vec();
    let mut main = vec![
        soa(z, 2024010101),
        rec(z, rtype::NS, n(&format!("ns1.{z}"))),
        rec(z, rtype::NS, n("ns.other.test")),
        rec(z, rtype::MX, pref_name(10, &format!("mail.{z}"))),
        rec(z, rtype::TXT, txt(&["v=spf1 -all"])),
        rec(z, rtype::A, a([192, 0, 2, 1])),
        rec(z, rtype::AAAA, vec![0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
        rec(&format!("ns1.{z}"), rtype::A, a([192, 0, 2, 53])),
        rec(&format!("mail.{z}"), rtype::A, a([192, 0, 2, 25])),
        rec(&format!("www.{z}"), rtype::CNAME, n(&format!("host.{z}"))),
        rec(&format!("host.{z}"), rtype::A, a([192, 0, 2, 80])),
        rec(&format!("host.{z}"), rtype::A, a([192, 0, 2, 81])),
        rec(&format!("ext.{z}"), rtype::CNAME, n("www.other.test")),
        rec(&format!("away.{z}"), rtype::CNAME, n("nowhere.invalid")),
        rec(&format!("loop1.{z}"), rtype::CNAME, n(&format!("loop2.{z}"))),
        rec(&format!("loop2.{z}"), rtype::CNAME, n(&format!("loop1.{z}"))),
        rec(&format!("*.wild.{z}"), rtype::A, a([192, 0, 2, 99])),
        rec(&format!("*.wild.{z}"), rtype::TXT, txt(&["wildcard"])),
        rec(&format!("*.wild.{z}"), rtype::MX, pref_name(5, &format!("mail.{z}"))),
        rec(&format!("sub.{z}"), rtype::NS, n(&format!("ns.sub.{z}"))),
        rec(&format!("sub.{z}"), rtype::NS, n("ns.other.test")),
        rec(&format!("ns.sub.{z}"), rtype::A, a([192, 0, 2, 54])),
        rec(&format!("ns.sub.{z}"), rtype::AAAA, vec![0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x54]),
        rec(&format!("child.{z}"), rtype::NS, n(&format!("ns1.{z}"))),
        rec(&format!("child.{z}"), rtype::DS, {
            let mut d = vec![0x30, 0x39, 13, 2];
            d.extend((0..32u8).collect::<Vec<_>>());
            d
        }),
        rec(&format!("dn.{z}"), rtype::DNAME, n(OTHER)),
        rec(&format!("_sip._tcp.{z}"), rtype::SRV, {
            let mut d = vec![0, 10, 0, 5, 0x13, 0xc4];
            d.extend(n(&format!("host.{z}")));
            d
        }),
        rec(&format!("big.{z}"), rtype::TXT, txt(&[&"x".repeat(250), &"y".repeat(250)])),
    ];
    // An RRset too large for 512 bytes (TC over UDP), and a long one for 1232.
    for i in 0..40u8 {
        main.push(rec(&format!("many.{z}"), rtype::A, a([198, 51, 100, i])));
    }
    for i in 0..120u8 {
        main.push(rec(&format!("huge.{z}"), rtype::AAAA, {
            let mut d = vec![0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
            d[15] = i;
            d
        }));
    }
    for (i, (t, rdata)) in extra.iter().enumerate() {
        if !matches!(*t, rtype::SOA | rtype::OPT | rtype::TSIG | rtype::CNAME | rtype::DNAME | rtype::NS) {
            main.push(rec(&format!("t{i}.{z}"), *t, rdata.clone()));
        }
    }
    let s = SIGNED;
    let signed = vec![
        soa(s, 7),
        rec(s, rtype::NS, n(&format!("ns1.{s}"))),
        rec(s, rtype::DNSKEY, {
            let mut d = vec![1, 1, 3, 13];
            d.extend((0..64u8).collect::<Vec<_>>());
            d
        }),
        rec(s, rtype::RRSIG, rrsig(rtype::SOA, 2, s)),
        rec(s, rtype::RRSIG, rrsig(rtype::NS, 2, s)),
        rec(s, rtype::RRSIG, rrsig(rtype::DNSKEY, 2, s)),
        rec(s, rtype::RRSIG, rrsig(rtype::NSEC, 2, s)),
        rec(
            s,
            rtype::NSEC,
            nsec(&format!("a.{s}"), &[rtype::NS, rtype::SOA, rtype::RRSIG, rtype::NSEC, rtype::DNSKEY]),
        ),
        rec(&format!("a.{s}"), rtype::A, a([192, 0, 2, 7])),
        rec(&format!("a.{s}"), rtype::RRSIG, rrsig(rtype::A, 3, s)),
        rec(&format!("a.{s}"), rtype::RRSIG, rrsig(rtype::NSEC, 3, s)),
        rec(&format!("a.{s}"), rtype::NSEC, nsec(&format!("ns1.{s}"), &[rtype::A, rtype::RRSIG, rtype::NSEC])),
        rec(&format!("ns1.{s}"), rtype::A, a([192, 0, 2, 8])),
        rec(&format!("ns1.{s}"), rtype::RRSIG, rrsig(rtype::A, 3, s)),
        rec(&format!("ns1.{s}"), rtype::RRSIG, rrsig(rtype::NSEC, 3, s)),
        rec(&format!("ns1.{s}"), rtype::NSEC, nsec(s, &[rtype::A, rtype::RRSIG, rtype::NSEC])),
        rec(&format!("*.w.{s}"), rtype::TXT, txt(&["signed wildcard"])),
    ];
    let o = OTHER;
    let other = vec![
        soa(o, 1),
        rec(o, rtype::NS, n(&format!("ns.{o}"))),
        rec(&format!("ns.{o}"), rtype::A, a([192, 0, 2, 2])),
        rec(&format!("www.{o}"), rtype::A, a([192, 0, 2, 3])),
        rec(&format!("x.{o}"), rtype::CNAME, n(&format!("www.{z}"))),
    ];
    let c = CHILD;
    let child = vec![
        soa(c, 3),
        rec(c, rtype::NS, n(&format!("ns1.{z}"))),
        rec(&format!("www.{c}"), rtype::A, a([192, 0, 2, 9])),
    ];
    vec![(z, main), (s, signed), (o, other), (c, child)]
}

/// Appends an OPT (root owner) to a message: UDP size, version, DO, options.
pub fn add_opt(msg: &mut Vec<u8>, udp: u16, version: u8, dnssec_ok: bool, options: &[(u16, Vec<u8>)]) {
    msg.push(0);
    msg.extend_from_slice(&rtype::OPT.to_be_bytes());
    msg.extend_from_slice(&udp.to_be_bytes());
    msg.extend_from_slice(&[0, version, if dnssec_ok { 0x80 } else { 0 }, 0]);
    let mut rd = Vec::new();
    for (code, data) in options {
        rd.extend_from_slice(&code.to_be_bytes());
        rd.extend_from_slice(&(data.len() as u16).to_be_bytes());
        rd.extend_from_slice(data);
    }
    msg.extend_from_slice(&(rd.len() as u16).to_be_bytes());
    msg.extend(rd);
    let ar = u16::from_be_bytes([msg[10], msg[11]]).saturating_add(1);
    msg[10..12].copy_from_slice(&ar.to_be_bytes());
}

pub fn key() -> wire::tsig::TsigKey {
    wire::tsig::TsigKey::from_parts(KEY_NAME, "hmac-sha256", KEY_SECRET).expect("the fuzz key")
}

/// A message from records, names compressed as the server writes them.
pub fn message(id: u16, flags: u16, q: Option<(&str, u16)>, sections: &[(Section, &[Record])]) -> Vec<u8> {
    let qn = q.map(|(s, t)| (name(s), t));
    let mut w = MessageWriter::new(id, flags, qn.as_ref().map(|(n, t)| (n, *t, class::IN)), 65_535);
    for (section, records) in sections {
        for r in *records {
            let _ = w.rrset(*section, r.owner.as_wire(), r.rtype, r.class, r.ttl, [&r.rdata[..]]);
        }
    }
    w.finish()
}

/// The queries of the handler corpus (without the handler's prefix byte).
fn queries() -> Vec<Vec<u8>> {
    let z = ZONE;
    let mut out = Vec::new();
    let types = [
        rtype::A,
        rtype::AAAA,
        rtype::NS,
        rtype::SOA,
        rtype::MX,
        rtype::TXT,
        rtype::CNAME,
        rtype::ANY,
        rtype::DS,
        rtype::DNSKEY,
        rtype::SRV,
        rtype::NSEC,
        rtype::RRSIG,
        rtype::CAA,
        rtype::HTTPS,
        rtype::NULL,
    ];
    let names = [
        z.to_string(),
        format!("www.{z}"),
        "WwW.ExAmPlE.TeSt".to_string(),
        format!("nx.{z}"),
        format!("a.b.wild.{z}"),
        format!("x.sub.{z}"),
        format!("sub.{z}"),
        format!("host.dn.{z}"),
        format!("loop1.{z}"),
        format!("ext.{z}"),
        format!("many.{z}"),
        format!("huge.{z}"),
        format!("big.{z}"),
        format!("t3.{z}"),
        CHILD.to_string(),
        SIGNED.to_string(),
        format!("b.{SIGNED}"),
        format!("x.w.{SIGNED}"),
        NO_COPY.to_string(),
        "not.ours.invalid".to_string(),
    ];
    for (i, nm) in names.iter().enumerate() {
        let qtype = types[i % types.len()];
        let mut q = wire::build_query(i as u16 + 1, &name(nm), qtype, None);
        q[2] |= 0x01; // RD
        out.push(q.clone());
        match i % 4 {
            0 => add_opt(&mut q, 1232, 0, true, &[]),
            1 => add_opt(&mut q, 4096, 0, false, &[(3, vec![])]),
            2 => add_opt(&mut q, 512, 0, true, &[(wire::OPTION_EXPIRE, vec![])]),
            _ => add_opt(&mut q, 0, 0, false, &[(10, vec![1, 2, 3, 4, 5, 6, 7, 8])]),
        }
        out.push(q);
    }
    // Every other type at the apex, and at t-names.
    for qtype in [rtype::A, rtype::MX, rtype::SOA] {
        let mut q = wire::build_query(77, &name(&format!("many.{z}")), qtype, None);
        add_opt(&mut q, 1232, 0, true, &[]);
        out.push(q);
    }
    // SOA with EXPIRE at the apex; BADVERS; several questions; no question.
    let mut q = wire::build_query(9, &name(z), rtype::SOA, None);
    add_opt(&mut q, 1232, 0, false, &[(wire::OPTION_EXPIRE, vec![])]);
    out.push(q);
    let mut q = wire::build_query(10, &name(z), rtype::SOA, None);
    add_opt(&mut q, 1232, 1, false, &[]);
    out.push(q);
    let mut q = wire::build_query(11, &name(z), rtype::A, None);
    q.extend_from_slice(&n(&format!("www.{z}")));
    q.extend_from_slice(&[0, 1, 0, 1]);
    q[5] = 2;
    out.push(q);
    out.push(vec![0, 12, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    // CHAOS.
    for nm in ["version.bind", "hostname.bind", "id.server"] {
        let mut q = wire::build_query(13, &name(nm), rtype::TXT, None);
        let at = q.len() - 2;
        q[at..].copy_from_slice(&class::CH.to_be_bytes());
        out.push(q);
    }
    // Transfers: AXFR and IXFR (with the authority SOA), over UDP they are refused or answered by SOA.
    out.push(wire::build_query(20, &name(z), rtype::AXFR, None));
    for serial in [2024010101u32, 1, 4_000_000_000] {
        out.push(wire::build_query(21, &name(z), rtype::IXFR, Some(serial)));
    }
    // Other opcodes.
    let mut q = wire::build_query(30, &name(z), rtype::SOA, None);
    q[2] = opcode::UPDATE << 3;
    out.push(q);
    let mut q = wire::build_query(31, &name(z), rtype::A, None);
    q[2] = 2 << 3; // STATUS
    out.push(q);
    out
}

/// NOTIFYs for our zones (opcode 4, AA), with and without the new SOA.
fn notifies() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (i, z) in [ZONE, SIGNED, OTHER, NO_COPY, "unknown.test"].iter().enumerate() {
        let flags = (u16::from(opcode::NOTIFY) << 11) | 0x0400;
        out.push(message(40 + i as u16, flags, Some((z, rtype::SOA)), &[]));
        let s = [soa(z, 2024010199)];
        out.push(message(50 + i as u16, flags, Some((z, rtype::SOA)), &[(Section::Answer, &s)]));
    }
    out
}

/// Handler inputs: a prefix byte (bit 0 TCP, bit 1 signed anew at run time,
/// bits 2-3 the source address) and a DNS message.
pub fn handler() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (i, q) in queries().into_iter().enumerate() {
        // UDP mostly, some over TCP, some signed.
        let prefix = match i % 7 {
            0 => 1,
            3 => 2,
            _ => 0,
        };
        out.push([vec![prefix], q].concat());
    }
    for (i, q) in notifies().into_iter().enumerate() {
        // From the primary (127.0.0.1), another loopback address, ::1; some signed.
        let prefix = [0u8, 4, 8, 2][i % 4];
        out.push([vec![prefix], q].concat());
    }
    // EDNS version 1 (BADVERS) for a name that is a pointer into the header (`a.` from the ID).
    let mut q = vec![0x01, b'a', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x00, 0, 1, 0, 1];
    add_opt(&mut q, 1232, 1, false, &[]);
    out.push([vec![0], q].concat());
    // A query signed long ago (BADTIME), and one signed with a key we lack.
    let mut q = wire::build_query(60, &name(ZONE), rtype::SOA, None);
    let _ = wire::tsig::sign_request(&mut q, &key(), 1_000_000_000);
    out.push([vec![0], q].concat());
    let other = wire::tsig::TsigKey::from_parts("other-key", "hmac-sha256", KEY_SECRET).expect("a key");
    let mut q = wire::build_query(61, &name(ZONE), rtype::SOA, None);
    let _ = wire::tsig::sign_request(&mut q, &other, wire::tsig::unix_now());
    out.push([vec![0], q].concat());
    out
}

/// Wire inputs: the handler's messages, and the transfer answers.
pub fn wire() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = queries().into_iter().step_by(2).collect();
    out.extend(notifies().into_iter().take(4));
    for seq in transfers() {
        out.extend(seq.2.into_iter().take(2));
    }
    out
}

/// AXFR and IXFR answers: (IXFR?, our serial, messages).
fn transfers() -> Vec<(bool, u32, Vec<Vec<u8>>)> {
    let z = ZONE;
    let id = 0x1234;
    let flags = 0x8400;
    let q_axfr = Some((z, rtype::AXFR));
    let q_ixfr = Some((z, rtype::IXFR));
    let zs = zones(&[]);
    let body: Vec<Record> = zs[0].1.iter().filter(|r| r.rtype != rtype::SOA).take(30).cloned().collect();
    let (first, rest) = body.split_at(12);
    let s1 = [soa(z, 1)];
    let mut out = Vec::new();
    // AXFR in one message, in three, and an AXFR-style IXFR.
    let all: Vec<Record> = s1.iter().chain(body.iter()).chain(s1.iter()).cloned().collect();
    out.push((false, 0, vec![message(id, flags, q_axfr, &[(Section::Answer, &all)])]));
    let m1: Vec<Record> = s1.iter().chain(first.iter()).cloned().collect();
    out.push((
        false,
        0,
        vec![
            message(id, flags, q_axfr, &[(Section::Answer, &m1)]),
            message(id, flags, None, &[(Section::Answer, rest)]),
            message(id, flags, None, &[(Section::Answer, &s1)]),
        ],
    ));
    out.push((true, 0, vec![message(id, flags, q_ixfr, &[(Section::Answer, &all)])]));
    // IXFR 1 → 2 → 3 (deletions then additions per step), in one message and in several.
    let (s2, s3) = (soa(z, 2), soa(z, 3));
    let a_old = rec(&format!("host.{z}"), rtype::A, vec![192, 0, 2, 80]);
    let a_new = rec(&format!("host.{z}"), rtype::A, vec![192, 0, 2, 90]);
    let t_new = rec(&format!("new.{z}"), rtype::TXT, txt(&["added"]));
    let ixfr: Vec<Record> = vec![
        s3.clone(),
        s1[0].clone(),
        a_old.clone(),
        s2.clone(),
        a_new.clone(),
        s2.clone(),
        a_new.clone(),
        s3.clone(),
        a_old,
        t_new,
        s3.clone(),
    ];
    out.push((true, 1, vec![message(id, flags, q_ixfr, &[(Section::Answer, &ixfr)])]));
    out.push((
        true,
        1,
        vec![
            message(id, flags, q_ixfr, &[(Section::Answer, &ixfr[..3])]),
            message(id, flags, None, &[(Section::Answer, &ixfr[3..7])]),
            message(id, flags, None, &[(Section::Answer, &ixfr[7..])]),
        ],
    ));
    // Up to date (a single SOA), and an error answer.
    out.push((true, 3, vec![message(id, flags, q_ixfr, &[(Section::Answer, std::slice::from_ref(&s3))])]));
    out.push((false, 0, vec![message(id, 0x8405, q_axfr, &[])]));
    // EDNS EXPIRE in the first message of an AXFR.
    let mut m = message(id, flags, q_axfr, &[(Section::Answer, &all)]);
    add_opt(&mut m, 1232, 0, false, &[(wire::OPTION_EXPIRE, 86_400u32.to_be_bytes().to_vec())]);
    out.push((false, 0, vec![m]));
    out
}

/// IXFR interpreter inputs: a mode byte (bit 0: IXFR), the query ID, our
/// serial, then each message with a 16-bit length.
pub fn ixfr() -> Vec<Vec<u8>> {
    transfers()
        .into_iter()
        .map(|(is_ixfr, serial, msgs)| {
            let mut v = vec![u8::from(is_ixfr)];
            v.extend_from_slice(&0x1234u16.to_be_bytes());
            v.extend_from_slice(&serial.to_be_bytes());
            for m in msgs {
                v.extend_from_slice(&(m.len() as u16).to_be_bytes());
                v.extend(m);
            }
            v
        })
        .collect()
}

/// Text inputs: a 16-bit type and RDATA, from presentation records BIND
/// (`named-rrchecker -u`) turns into wire form.
pub fn text() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for line in crate::text::PRESENTATION.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match crate::text::bind_wire(line) {
            Ok((t, rdata)) => out.push([t.to_be_bytes().to_vec(), rdata].concat()),
            Err(e) => eprintln!("text seed left out: {e}"),
        }
    }
    out
}

/// API inputs: endpoint, path parameter choice, query string length, query string, body.
pub fn api() -> Vec<Vec<u8>> {
    crate::api::SEEDS
        .iter()
        .map(|(endpoint, param, query, body)| {
            let mut v = vec![*endpoint, *param, query.len() as u8];
            v.extend_from_slice(query.as_bytes());
            v.extend_from_slice(body.as_bytes());
            v
        })
        .collect()
}
