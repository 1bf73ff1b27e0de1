//! Numbers of the protocol (IANA registries): record types, classes, RCODEs, opcodes, and the
//! mnemonics of types and classes in both directions.

use std::borrow::Cow;

/// Numeric record types used by this module tree (IANA "Resource Record (RR) TYPEs").
pub mod rtype {
    pub const A: u16 = 1;
    pub const NS: u16 = 2;
    pub const MD: u16 = 3;
    pub const MF: u16 = 4;
    pub const CNAME: u16 = 5;
    pub const SOA: u16 = 6;
    pub const MB: u16 = 7;
    pub const MG: u16 = 8;
    pub const MR: u16 = 9;
    pub const NULL: u16 = 10;
    pub const WKS: u16 = 11;
    pub const PTR: u16 = 12;
    pub const HINFO: u16 = 13;
    pub const MINFO: u16 = 14;
    pub const MX: u16 = 15;
    pub const TXT: u16 = 16;
    pub const RP: u16 = 17;
    pub const AFSDB: u16 = 18;
    pub const RT: u16 = 21;
    pub const SIG: u16 = 24;
    pub const KEY: u16 = 25;
    pub const PX: u16 = 26;
    pub const AAAA: u16 = 28;
    pub const LOC: u16 = 29;
    pub const NXT: u16 = 30;
    pub const SRV: u16 = 33;
    pub const NAPTR: u16 = 35;
    pub const KX: u16 = 36;
    pub const CERT: u16 = 37;
    pub const DNAME: u16 = 39;
    pub const OPT: u16 = 41;
    pub const APL: u16 = 42;
    pub const DS: u16 = 43;
    pub const SSHFP: u16 = 44;
    pub const IPSECKEY: u16 = 45;
    pub const RRSIG: u16 = 46;
    pub const NSEC: u16 = 47;
    pub const DNSKEY: u16 = 48;
    pub const DHCID: u16 = 49;
    pub const NSEC3: u16 = 50;
    pub const NSEC3PARAM: u16 = 51;
    pub const TLSA: u16 = 52;
    pub const SMIMEA: u16 = 53;
    pub const HIP: u16 = 55;
    pub const CDS: u16 = 59;
    pub const CDNSKEY: u16 = 60;
    pub const OPENPGPKEY: u16 = 61;
    pub const CSYNC: u16 = 62;
    pub const ZONEMD: u16 = 63;
    pub const SVCB: u16 = 64;
    pub const HTTPS: u16 = 65;
    pub const SPF: u16 = 99;
    pub const NID: u16 = 104;
    pub const L32: u16 = 105;
    pub const L64: u16 = 106;
    pub const LP: u16 = 107;
    pub const EUI48: u16 = 108;
    pub const EUI64: u16 = 109;
    pub const TKEY: u16 = 249;
    pub const TSIG: u16 = 250;
    pub const IXFR: u16 = 251;
    pub const AXFR: u16 = 252;
    pub const ANY: u16 = 255;
    pub const URI: u16 = 256;
    pub const CAA: u16 = 257;
}

/// Numeric classes (RFC 1035 §3.2.4, RFC 2136 §2.4 for NONE, RFC 8945 §4.2 for ANY in TSIG).
pub mod class {
    pub const IN: u16 = 1;
    pub const CH: u16 = 3;
    pub const HS: u16 = 4;
    pub const NONE: u16 = 254;
    pub const ANY: u16 = 255;
}

/// Response codes (RFC 1035 §4.1.1, RFC 2136 §2.2, RFC 8945 §3 for the TSIG error field).
pub mod rcode {
    pub const NOERROR: u16 = 0;
    pub const FORMERR: u16 = 1;
    pub const SERVFAIL: u16 = 2;
    pub const NXDOMAIN: u16 = 3;
    pub const NOTIMP: u16 = 4;
    pub const REFUSED: u16 = 5;
    pub const NOTAUTH: u16 = 9;
    pub const NOTZONE: u16 = 10;
    pub const BADSIG: u16 = 16;
    pub const BADKEY: u16 = 17;
    pub const BADTIME: u16 = 18;
    pub const BADTRUNC: u16 = 22;

    /// The mnemonic of an RCODE or TSIG error, `RCODE42` for unassigned values.
    pub fn name(code: u16) -> std::borrow::Cow<'static, str> {
        let s = match code {
            0 => "NOERROR",
            1 => "FORMERR",
            2 => "SERVFAIL",
            3 => "NXDOMAIN",
            4 => "NOTIMP",
            5 => "REFUSED",
            6 => "YXDOMAIN",
            7 => "YXRRSET",
            8 => "NXRRSET",
            9 => "NOTAUTH",
            10 => "NOTZONE",
            16 => "BADSIG",
            17 => "BADKEY",
            18 => "BADTIME",
            19 => "BADMODE",
            20 => "BADNAME",
            21 => "BADALG",
            22 => "BADTRUNC",
            23 => "BADCOOKIE",
            other => return format!("RCODE{other}").into(),
        };
        s.into()
    }
}

/// Opcodes (RFC 1035 §4.1.1, RFC 1996 for NOTIFY, RFC 2136 for UPDATE).
pub mod opcode {
    pub const QUERY: u8 = 0;
    pub const NOTIFY: u8 = 4;
    pub const UPDATE: u8 = 5;
}

/// Mnemonics of the types we know by name (IANA registry), in both directions.
const TYPES: &[(u16, &str)] = &[
    (rtype::A, "A"),
    (rtype::NS, "NS"),
    (rtype::MD, "MD"),
    (rtype::MF, "MF"),
    (rtype::CNAME, "CNAME"),
    (rtype::SOA, "SOA"),
    (rtype::MB, "MB"),
    (rtype::MG, "MG"),
    (rtype::MR, "MR"),
    (rtype::NULL, "NULL"),
    (rtype::WKS, "WKS"),
    (rtype::PTR, "PTR"),
    (rtype::HINFO, "HINFO"),
    (rtype::MINFO, "MINFO"),
    (rtype::MX, "MX"),
    (rtype::TXT, "TXT"),
    (rtype::RP, "RP"),
    (rtype::AFSDB, "AFSDB"),
    (19, "X25"),
    (20, "ISDN"),
    (rtype::RT, "RT"),
    (22, "NSAP"),
    (23, "NSAP-PTR"),
    (rtype::SIG, "SIG"),
    (rtype::KEY, "KEY"),
    (rtype::PX, "PX"),
    (27, "GPOS"),
    (rtype::AAAA, "AAAA"),
    (rtype::LOC, "LOC"),
    (rtype::NXT, "NXT"),
    (31, "EID"),
    (32, "NIMLOC"),
    (rtype::SRV, "SRV"),
    (34, "ATMA"),
    (rtype::NAPTR, "NAPTR"),
    (rtype::KX, "KX"),
    (rtype::CERT, "CERT"),
    (38, "A6"),
    (rtype::DNAME, "DNAME"),
    (40, "SINK"),
    (rtype::OPT, "OPT"),
    (rtype::APL, "APL"),
    (rtype::DS, "DS"),
    (rtype::SSHFP, "SSHFP"),
    (rtype::IPSECKEY, "IPSECKEY"),
    (rtype::RRSIG, "RRSIG"),
    (rtype::NSEC, "NSEC"),
    (rtype::DNSKEY, "DNSKEY"),
    (rtype::DHCID, "DHCID"),
    (rtype::NSEC3, "NSEC3"),
    (rtype::NSEC3PARAM, "NSEC3PARAM"),
    (rtype::TLSA, "TLSA"),
    (rtype::SMIMEA, "SMIMEA"),
    (rtype::HIP, "HIP"),
    (56, "NINFO"),
    (57, "RKEY"),
    (58, "TALINK"),
    (rtype::CDS, "CDS"),
    (rtype::CDNSKEY, "CDNSKEY"),
    (rtype::OPENPGPKEY, "OPENPGPKEY"),
    (rtype::CSYNC, "CSYNC"),
    (rtype::ZONEMD, "ZONEMD"),
    (rtype::SVCB, "SVCB"),
    (rtype::HTTPS, "HTTPS"),
    (66, "DSYNC"),
    (67, "HHIT"),
    (68, "BRID"),
    (rtype::SPF, "SPF"),
    // Reserved (RFC 6895 §3.1, IANA): BIND and dig print them by name, in NSEC
    // and NXT bitmaps too.
    (100, "UINFO"),
    (101, "UID"),
    (102, "GID"),
    (103, "UNSPEC"),
    (rtype::NID, "NID"),
    (rtype::L32, "L32"),
    (rtype::L64, "L64"),
    (rtype::LP, "LP"),
    (rtype::EUI48, "EUI48"),
    (rtype::EUI64, "EUI64"),
    (rtype::TKEY, "TKEY"),
    (rtype::TSIG, "TSIG"),
    (rtype::IXFR, "IXFR"),
    (rtype::AXFR, "AXFR"),
    (253, "MAILB"),
    (254, "MAILA"),
    (rtype::ANY, "ANY"),
    (rtype::URI, "URI"),
    (rtype::CAA, "CAA"),
    (258, "AVC"),
    (259, "DOA"),
    (260, "AMTRELAY"),
    (261, "RESINFO"),
    (262, "WALLET"),
    (32768, "TA"),
    (32769, "DLV"),
];

const CLASSES: &[(u16, &str)] = &[(1, "IN"), (3, "CH"), (4, "HS"), (254, "NONE"), (255, "ANY")];

/// `A`, `MX`, … or `TYPE65400` (RFC 3597 §5) for types without a mnemonic.
pub fn type_name(rtype: u16) -> Cow<'static, str> {
    match TYPES.iter().find(|(t, _)| *t == rtype) {
        Some((_, n)) => Cow::Borrowed(n),
        None => Cow::Owned(format!("TYPE{rtype}")),
    }
}

/// The type number of a mnemonic or of `TYPEnnn`, ignoring case.
pub fn type_from_name(s: &str) -> Option<u16> {
    from_name(TYPES, "TYPE", s)
}

/// `IN`, `CH`, … or `CLASS42`.
pub fn class_name(class: u16) -> Cow<'static, str> {
    match CLASSES.iter().find(|(c, _)| *c == class) {
        Some((_, n)) => Cow::Borrowed(n),
        None => Cow::Owned(format!("CLASS{class}")),
    }
}

/// The class number of a mnemonic or of `CLASSnnn`, ignoring case.
pub fn class_from_name(s: &str) -> Option<u16> {
    from_name(CLASSES, "CLASS", s)
}

fn from_name(table: &[(u16, &str)], generic: &str, s: &str) -> Option<u16> {
    if let Some((v, _)) = table.iter().find(|(_, n)| n.eq_ignore_ascii_case(s)) {
        return Some(*v);
    }
    let prefix = s.get(..generic.len())?;
    let digits = &s[generic.len()..];
    if !prefix.eq_ignore_ascii_case(generic) || digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}
