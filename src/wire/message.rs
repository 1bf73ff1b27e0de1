//! Our own reader of DNS messages (RFC 1035 §4) and builder of the few queries we send.
//!
//! Why not hickory's decoder: it refuses records with zero-length RDATA in non-UPDATE messages
//! (so an AXFR of a zone holding `x TYPE65400 \# 0` fails outright) and its presentation format is
//! lossy. A transfer of a million records goes through here, so the reader is a single forward
//! pass that copies each record once: names are decompressed into owned wire form, RDATA is kept
//! as bytes, decompressed only for the types whose RDATA may carry compressed names (RFC 3597 §4).
//! Everything is bounds-checked; nothing derived from the network can panic.

use std::borrow::Cow;
use std::fmt;

use super::name::{Name, MAX_LABEL_LEN, MAX_NAME_LEN};
use super::types::{class, rtype};

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

/// The fixed 12-byte message header (RFC 1035 §4.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub id: u16,
    pub flags: u16,
    pub qdcount: u16,
    pub ancount: u16,
    pub nscount: u16,
    pub arcount: u16,
}

impl Header {
    /// The 4-bit RCODE of the header (the OPT extension is not needed for transfers).
    pub fn rcode(&self) -> u16 {
        self.flags & 0x000f
    }
    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0x0f) as u8
    }
    pub fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }
    /// Authoritative Answer.
    pub fn aa(&self) -> bool {
        self.flags & 0x0400 != 0
    }
    /// TrunCation: the answer did not fit in the UDP datagram.
    pub fn tc(&self) -> bool {
        self.flags & 0x0200 != 0
    }
    pub fn rd(&self) -> bool {
        self.flags & 0x0100 != 0
    }

    fn read(buf: &[u8]) -> Result<Header, WireError> {
        let Some(h) = buf.get(..12) else {
            return Err(WireError::Truncated { section: Section::Header, offset: buf.len() });
        };
        let w = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
        Ok(Header { id: w(0), flags: w(2), qdcount: w(4), ancount: w(6), nscount: w(8), arcount: w(10) })
    }

    /// The 12 bytes of wire form.
    pub fn to_bytes(&self) -> [u8; 12] {
        let mut b = [0u8; 12];
        for (i, v) in
            [self.id, self.flags, self.qdcount, self.ancount, self.nscount, self.arcount].into_iter().enumerate()
        {
            b[2 * i..2 * i + 2].copy_from_slice(&v.to_be_bytes());
        }
        b
    }
}

/// One entry of the question section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub name: Name,
    pub qtype: u16,
    pub qclass: u16,
}

/// A resource record with RDATA in uncompressed canonical wire form (names inside RDATA of the
/// RFC 3597 §4 types decompressed; everything else verbatim, including zero-length RDATA).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub owner: Name,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    pub rdata: Vec<u8>,
}

impl Record {
    /// The SERIAL of a SOA record (RFC 1035 §3.3.13), `None` for other types or malformed RDATA.
    pub fn soa_serial(&self) -> Option<u32> {
        self.soa_fields().map(|f| f[0])
    }

    /// SERIAL, REFRESH, RETRY, EXPIRE, MINIMUM of a SOA record, in that order.
    pub fn soa_fields(&self) -> Option<[u32; 5]> {
        if self.rtype != rtype::SOA {
            return None;
        }
        let names = skip_uncompressed_name(&self.rdata, 0)?;
        let names = skip_uncompressed_name(&self.rdata, names)?;
        let fixed = self.rdata.get(names..)?;
        if fixed.len() != 20 {
            return None;
        }
        let mut f = [0u32; 5];
        for (i, v) in f.iter_mut().enumerate() {
            *v = u32::from_be_bytes([fixed[4 * i], fixed[4 * i + 1], fixed[4 * i + 2], fixed[4 * i + 3]]);
        }
        Some(f)
    }
}

impl Record {
    /// Whether two records are the same record (RFC 2181 §5): owner (without case), type, class
    /// and RDATA in canonical form ([`canonical_rdata`]); the TTL is not part of it.
    pub fn same_record(&self, other: &Record) -> bool {
        self.rtype == other.rtype
            && self.class == other.class
            && self.owner.eq_ignore_case(&other.owner)
            && same_rdata(self.rtype, &self.rdata, &other.rdata)
    }
}

/// Whether two RDATA of type `rtype` are the same in canonical form.
pub fn same_rdata(rtype: u16, a: &[u8], b: &[u8]) -> bool {
    a == b || (a.len() == b.len() && canonical_rdata(rtype, a) == canonical_rdata(rtype, b))
}

/// Where the names are in RDATA whose canonical form lowercases them (RFC 4034 §6.2, item 3, as
/// RFC 6840 §5.1 corrects it: RRSIG yes, NSEC no). A6 is handled apart.
fn canonical_layout(rt: u16) -> Option<&'static [Field]> {
    use Field::*;
    Some(match rt {
        rtype::NS
        | rtype::MD
        | rtype::MF
        | rtype::CNAME
        | rtype::MB
        | rtype::MG
        | rtype::MR
        | rtype::PTR
        | rtype::DNAME => &[Name],
        rtype::SOA => &[Name, Name, Rest],
        rtype::MINFO | rtype::RP => &[Name, Name],
        rtype::MX | rtype::AFSDB | rtype::RT | rtype::KX => &[Fixed(2), Name],
        rtype::PX => &[Fixed(2), Name, Name],
        rtype::SRV => &[Fixed(6), Name],
        rtype::SIG | rtype::RRSIG => &[Fixed(18), Name, Rest],
        rtype::NXT => &[Name, Rest],
        rtype::NAPTR => &[Fixed(4), CharString, CharString, CharString, Name],
        _ => return None,
    })
}

/// RDATA in canonical form for comparing records: the names of the types RFC 4034 §6.2 lists
/// lowercased, everything else (and RDATA that does not parse as its type) as it is.
pub fn canonical_rdata(rtype: u16, rdata: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    use std::borrow::Cow;
    if !rdata.iter().any(u8::is_ascii_uppercase) {
        return Cow::Borrowed(rdata);
    }
    let mut out = rdata.to_vec();
    let lower_name = |out: &mut Vec<u8>, pos: usize| -> Option<usize> {
        let end = skip_uncompressed_name(out, pos)?;
        let mut p = pos;
        while p + 1 < end {
            let len = usize::from(out[p]);
            out[p + 1..p + 1 + len].make_ascii_lowercase();
            p += 1 + len;
        }
        Some(end)
    };
    let done = if rtype == 38 {
        // A6 (RFC 2874 §3.1.1): prefix length, address suffix, then the prefix name if any.
        (|| {
            let plen = *rdata.first()?;
            let name_at = 1 + 16 - usize::from(plen / 8).min(16);
            (plen > 0 && name_at < rdata.len()).then(|| lower_name(&mut out, name_at)).flatten()
        })()
        .is_some()
    } else {
        let Some(layout) = canonical_layout(rtype) else { return Cow::Borrowed(rdata) };
        let mut pos = 0usize;
        layout.iter().all(|f| {
            let next = match *f {
                Field::Name => lower_name(&mut out, pos),
                Field::Fixed(n) => Some(pos + n),
                Field::CharString => out.get(pos).map(|&n| pos + 1 + usize::from(n)),
                Field::Rest => Some(out.len()),
            };
            match next {
                Some(n) if n <= out.len() => {
                    pos = n;
                    true
                }
                _ => false,
            }
        })
    };
    if done {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(rdata)
    }
}

/// Returns the offset after an uncompressed name starting at `pos`.
pub(crate) fn skip_uncompressed_name(buf: &[u8], mut pos: usize) -> Option<usize> {
    let start = pos;
    loop {
        let len = usize::from(*buf.get(pos)?);
        if len == 0 {
            return (pos + 1 - start <= MAX_NAME_LEN).then_some(pos + 1);
        }
        if len > MAX_LABEL_LEN {
            return None;
        }
        pos += 1 + len;
    }
}

/// The TSIG record of a message (RFC 8945 §4.2), with where it starts so the MAC can be computed
/// over the bytes before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsigRecord {
    /// Byte offset of the TSIG RR (its owner name) in the message.
    pub offset: usize,
    pub key_name: Name,
    pub algorithm: Name,
    /// 48-bit seconds since the epoch.
    pub time_signed: u64,
    pub fudge: u16,
    pub mac: Vec<u8>,
    pub original_id: u16,
    pub error: u16,
    pub other: Vec<u8>,
}

/// A parsed message. OPT and TSIG are taken out of the additional section.
#[derive(Debug, Clone)]
pub struct Message {
    pub header: Header,
    pub questions: Vec<Question>,
    pub answers: Vec<Record>,
    pub authority: Vec<Record>,
    /// Additional records other than OPT and TSIG.
    pub additional: Vec<Record>,
    pub opt: Option<Record>,
    pub tsig: Option<TsigRecord>,
}

/// Which part of a message a problem was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Header,
    Question,
    Answer,
    Authority,
    Additional,
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Section::Header => "the header",
            Section::Question => "the question section",
            Section::Answer => "the answer section",
            Section::Authority => "the authority section",
            Section::Additional => "the additional section",
        })
    }
}

/// A malformed message. Offsets are bytes from the start of the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    Truncated { section: Section, offset: usize },
    LabelType { section: Section, offset: usize, byte: u8 },
    Pointer { section: Section, offset: usize, target: usize },
    NameTooLong { section: Section, offset: usize },
    Rdata { section: Section, offset: usize, rtype: u16 },
    TrailingBytes { offset: usize, count: usize },
    Misplaced { section: Section, offset: usize, what: &'static str },
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Truncated { section, offset } => {
                write!(f, "message truncated inside {section} at byte {offset}")
            }
            WireError::LabelType { section, offset, byte } => {
                write!(f, "unsupported label type {byte:#04x} at byte {offset} in {section}")
            }
            WireError::Pointer { section, offset, target } => write!(
                f,
                "compression pointer at byte {offset} in {section} points to byte {target}, \
                 which is not before the name it continues"
            ),
            WireError::NameTooLong { section, offset } => {
                write!(f, "domain name at byte {offset} in {section} is longer than 255 bytes")
            }
            WireError::Rdata { section, offset, rtype } => {
                write!(f, "malformed {} RDATA at byte {offset} in {section}", super::types::type_name(*rtype))
            }
            WireError::TrailingBytes { offset, count } => {
                write!(f, "{count} bytes after the last record, at byte {offset}")
            }
            WireError::Misplaced { section, offset, what } => write!(f, "{what} at byte {offset} in {section}"),
        }
    }
}

impl std::error::Error for WireError {}

/// Types whose RDATA may contain compressed names, and its layout (RFC 1035 §3.3, RFC 3597 §4).
#[derive(Clone, Copy)]
enum Field {
    Name,
    Fixed(usize),
    CharString,
    /// Everything up to the end of the RDATA, verbatim.
    Rest,
}

fn compressible_layout(rt: u16) -> Option<&'static [Field]> {
    use Field::*;
    Some(match rt {
        rtype::NS | rtype::MD | rtype::MF | rtype::CNAME | rtype::MB | rtype::MG | rtype::MR | rtype::PTR => &[Name],
        rtype::SOA => &[Name, Name, Fixed(20)],
        rtype::MINFO | rtype::RP => &[Name, Name],
        rtype::MX | rtype::AFSDB | rtype::RT => &[Fixed(2), Name],
        rtype::PX => &[Fixed(2), Name, Name],
        rtype::SRV => &[Fixed(6), Name],
        rtype::SIG => &[Fixed(18), Name, Rest],
        rtype::NXT => &[Name, Rest],
        rtype::NAPTR => &[Fixed(4), CharString, CharString, CharString, Name],
        _ => return None,
    })
}

/// The single-pass reader state.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    scratch: Vec<u8>,
}

impl<'a> Reader<'a> {
    /// Decompresses the name at `start` and appends its wire form to `out`; returns the offset
    /// just after the name as it is stored at `start`.
    ///
    /// Loop protection: each pointer must point strictly before the start of the name segment that
    /// contains it (every compressor points back to names it has already written), so the read
    /// position strictly decreases at every jump and the walk always ends.
    fn name_into(buf: &[u8], start: usize, out: &mut Vec<u8>, section: Section) -> Result<usize, WireError> {
        let base = out.len();
        let mut pos = start;
        let mut limit = start;
        let mut after: Option<usize> = None;
        loop {
            let Some(&len) = buf.get(pos) else {
                return Err(WireError::Truncated { section, offset: pos });
            };
            match len & 0xc0 {
                0x00 => {
                    let len = usize::from(len);
                    // This label, plus the root label still to come unless this is it.
                    if out.len() - base + 1 + len + usize::from(len != 0) > MAX_NAME_LEN {
                        return Err(WireError::NameTooLong { section, offset: start });
                    }
                    let Some(label) = buf.get(pos..pos + 1 + len) else {
                        return Err(WireError::Truncated { section, offset: buf.len() });
                    };
                    out.extend_from_slice(label);
                    pos += 1 + len;
                    if len == 0 {
                        return Ok(after.unwrap_or(pos));
                    }
                }
                0xc0 => {
                    let Some(&lo) = buf.get(pos + 1) else {
                        return Err(WireError::Truncated { section, offset: pos + 1 });
                    };
                    let target = (usize::from(len & 0x3f) << 8) | usize::from(lo);
                    if target >= limit {
                        return Err(WireError::Pointer { section, offset: pos, target });
                    }
                    after.get_or_insert(pos + 2);
                    limit = target;
                    pos = target;
                }
                _ => return Err(WireError::LabelType { section, offset: pos, byte: len }),
            }
        }
    }

    fn name(&mut self, section: Section) -> Result<Name, WireError> {
        // A name without pointers (a query's question, an OPT's root) is
        // copied as it stands, with no scratch buffer.
        if let Some(end) = skip_uncompressed_name(self.buf, self.pos) {
            let name = Name(Box::from(&self.buf[self.pos..end]));
            self.pos = end;
            return Ok(name);
        }
        self.scratch.clear();
        self.pos = Self::name_into(self.buf, self.pos, &mut self.scratch, section)?;
        Ok(Name(Box::from(&self.scratch[..])))
    }

    fn u16(&mut self, section: Section) -> Result<u16, WireError> {
        match self.buf.get(self.pos..self.pos + 2) {
            Some(b) => {
                self.pos += 2;
                Ok(u16::from_be_bytes([b[0], b[1]]))
            }
            None => Err(WireError::Truncated { section, offset: self.buf.len() }),
        }
    }

    fn u32(&mut self, section: Section) -> Result<u32, WireError> {
        match self.buf.get(self.pos..self.pos + 4) {
            Some(b) => {
                self.pos += 4;
                Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            }
            None => Err(WireError::Truncated { section, offset: self.buf.len() }),
        }
    }

    /// Reads one RR; returns it with the offset where it started.
    fn record(&mut self, section: Section) -> Result<(Record, usize), WireError> {
        let start = self.pos;
        let owner = self.name(section)?;
        let rt = self.u16(section)?;
        let class = self.u16(section)?;
        let ttl = self.u32(section)?;
        let rdlen = usize::from(self.u16(section)?);
        let rd_start = self.pos;
        let rd_end = rd_start + rdlen;
        if rd_end > self.buf.len() {
            return Err(WireError::Truncated { section, offset: self.buf.len() });
        }
        let rdata = match compressible_layout(rt) {
            None => self.buf[rd_start..rd_end].to_vec(),
            Some(layout) => Self::decompress_rdata(self.buf, rd_start, rd_end, layout).ok_or(WireError::Rdata {
                section,
                offset: rd_start,
                rtype: rt,
            })?,
        };
        self.pos = rd_end;
        Ok((Record { owner, rtype: rt, class, ttl, rdata }, start))
    }

    fn decompress_rdata(buf: &[u8], start: usize, end: usize, layout: &[Field]) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(end - start + 32);
        let mut pos = start;
        for field in layout {
            match *field {
                Field::Name => {
                    pos = Self::name_into(buf, pos, &mut out, Section::Answer).ok()?;
                }
                Field::Fixed(n) => {
                    out.extend_from_slice(buf.get(pos..pos + n)?);
                    pos += n;
                }
                Field::CharString => {
                    let n = usize::from(*buf.get(pos)?);
                    out.extend_from_slice(buf.get(pos..pos + 1 + n)?);
                    pos += 1 + n;
                }
                Field::Rest => {
                    out.extend_from_slice(buf.get(pos..end)?);
                    pos = end;
                }
            }
            if pos > end {
                return None;
            }
        }
        (pos == end).then_some(out)
    }
}

/// Parses a whole message (RFC 1035 §4.1), strictly: every count must be honoured, nothing may
/// follow the last record, TSIG must be the last additional record (RFC 8945 §5.1) and at most one
/// OPT may appear (RFC 6891 §6.1.1).
pub fn parse_message(buf: &[u8]) -> Result<Message, WireError> {
    let header = Header::read(buf)?;
    // The scratch buffer grows only for compressed names.
    let mut r = Reader { buf, pos: 12, scratch: Vec::new() };
    // A record takes at least 11 bytes, so never pre-allocate more than the message can hold.
    let cap = |n: u16| usize::from(n).min(buf.len() / 11);
    let mut questions = Vec::with_capacity(usize::from(header.qdcount).min(buf.len() / 5));
    for _ in 0..header.qdcount {
        let name = r.name(Section::Question)?;
        let qtype = r.u16(Section::Question)?;
        let qclass = r.u16(Section::Question)?;
        questions.push(Question { name, qtype, qclass });
    }
    let mut answers = Vec::with_capacity(cap(header.ancount));
    let mut authority = Vec::with_capacity(cap(header.nscount));
    for (count, section, out) in
        [(header.ancount, Section::Answer, &mut answers), (header.nscount, Section::Authority, &mut authority)]
    {
        for _ in 0..count {
            let (rec, at) = r.record(section)?;
            if rec.rtype == rtype::TSIG || rec.rtype == rtype::OPT {
                return Err(WireError::Misplaced {
                    section,
                    offset: at,
                    what: if rec.rtype == rtype::TSIG {
                        "TSIG record outside the additional section"
                    } else {
                        "OPT record outside the additional section"
                    },
                });
            }
            out.push(rec);
        }
    }
    // Not sized by ARCOUNT: a query's one additional record is its OPT, which goes in `opt`.
    let mut additional = Vec::new();
    let mut opt = None;
    let mut tsig = None;
    for i in 0..header.arcount {
        let (rec, at) = r.record(Section::Additional)?;
        match rec.rtype {
            rtype::OPT => {
                if opt.is_some() {
                    return Err(WireError::Misplaced {
                        section: Section::Additional,
                        offset: at,
                        what: "second OPT record",
                    });
                }
                opt = Some(rec);
            }
            rtype::TSIG => {
                if i + 1 != header.arcount {
                    return Err(WireError::Misplaced {
                        section: Section::Additional,
                        offset: at,
                        what: "TSIG record that is not the last record",
                    });
                }
                tsig = Some(parse_tsig(rec, at)?);
            }
            _ => additional.push(rec),
        }
    }
    if r.pos != buf.len() {
        return Err(WireError::TrailingBytes { offset: r.pos, count: buf.len() - r.pos });
    }
    Ok(Message { header, questions, answers, authority, additional, opt, tsig })
}

/// Splits TSIG RDATA (RFC 8945 §4.2): algorithm name, 48-bit time, fudge, MAC, original ID, error,
/// other data.
fn parse_tsig(rec: Record, offset: usize) -> Result<TsigRecord, WireError> {
    let bad = || WireError::Rdata { section: Section::Additional, offset, rtype: rtype::TSIG };
    let d = &rec.rdata;
    let alg_end = skip_uncompressed_name(d, 0).ok_or_else(bad)?;
    let algorithm = Name::from_wire(&d[..alg_end]).map_err(|_| bad())?;
    let u16_at = |p: usize| -> Result<u16, WireError> {
        d.get(p..p + 2).map(|b| u16::from_be_bytes([b[0], b[1]])).ok_or_else(bad)
    };
    let t = d.get(alg_end..alg_end + 6).ok_or_else(bad)?;
    let time_signed = t.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    let fudge = u16_at(alg_end + 6)?;
    let mac_len = usize::from(u16_at(alg_end + 8)?);
    let mac_start = alg_end + 10;
    let mac = d.get(mac_start..mac_start + mac_len).ok_or_else(bad)?.to_vec();
    let p = mac_start + mac_len;
    let original_id = u16_at(p)?;
    let error = u16_at(p + 2)?;
    let other_len = usize::from(u16_at(p + 4)?);
    let other = d.get(p + 6..p + 6 + other_len).ok_or_else(bad)?.to_vec();
    if p + 6 + other_len != d.len() {
        return Err(bad());
    }
    Ok(TsigRecord { offset, key_name: rec.owner, algorithm, time_signed, fudge, mac, original_id, error, other })
}

// ---------------------------------------------------------------------------------------------
// Building the queries we send
// ---------------------------------------------------------------------------------------------

/// Builds a query for `qname`/`qtype`/IN with RD clear (transfers and SOA checks go to an
/// authoritative server, RFC 5936 §2.1.1).
///
/// With `ixfr_serial`, the authority section carries the SOA that RFC 1995 §3 requires in an IXFR
/// query. Only its SERIAL is looked at by primaries, so MNAME and RNAME are the root and the
/// timers zero; the owner is a compression pointer to the question name.
pub fn build_query(id: u16, qname: &Name, qtype: u16, ixfr_serial: Option<u32>) -> Vec<u8> {
    let mut b = Vec::with_capacity(12 + qname.as_wire().len() + 4 + 40 + 128);
    let header = Header { id, flags: 0, qdcount: 1, ancount: 0, nscount: u16::from(ixfr_serial.is_some()), arcount: 0 };
    b.extend_from_slice(&header.to_bytes());
    b.extend_from_slice(qname.as_wire());
    b.extend_from_slice(&qtype.to_be_bytes());
    b.extend_from_slice(&class::IN.to_be_bytes());
    if let Some(serial) = ixfr_serial {
        b.extend_from_slice(&[0xc0, 12]);
        b.extend_from_slice(&rtype::SOA.to_be_bytes());
        b.extend_from_slice(&class::IN.to_be_bytes());
        b.extend_from_slice(&0u32.to_be_bytes());
        b.extend_from_slice(&22u16.to_be_bytes());
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&serial.to_be_bytes());
        b.extend_from_slice(&[0u8; 16]);
    }
    b
}

/// The EDNS option code of EXPIRE (RFC 7314 §2).
pub const OPTION_EXPIRE: u16 = 9;

/// The UDP payload size we advertise in our queries' OPT (the DNS flag day
/// 2020 value; a larger SOA answer comes back truncated and is asked over TCP).
pub const QUERY_UDP_PAYLOAD: u16 = 1232;

/// Appends an OPT record (RFC 6891) asking for the zone's remaining expire
/// time (RFC 7314 §3: an EXPIRE option without data) to a query built by
/// [`build_query`]. Must come before any TSIG, which is the last record.
pub fn add_expire_request(query: &mut Vec<u8>) {
    query.push(0); // the root
    query.extend_from_slice(&rtype::OPT.to_be_bytes());
    query.extend_from_slice(&QUERY_UDP_PAYLOAD.to_be_bytes());
    query.extend_from_slice(&0u32.to_be_bytes()); // extended RCODE, version 0, no DO
    query.extend_from_slice(&4u16.to_be_bytes());
    query.extend_from_slice(&OPTION_EXPIRE.to_be_bytes());
    query.extend_from_slice(&0u16.to_be_bytes());
    let arcount = u16::from_be_bytes([query[10], query[11]]).saturating_add(1);
    query[10..12].copy_from_slice(&arcount.to_be_bytes());
}

/// Appends an EXPIRE option giving `remaining` seconds (RFC 7314 §2) to an
/// OPT's option list.
pub fn push_expire_option(options: &mut Vec<u8>, remaining: u32) {
    options.extend_from_slice(&OPTION_EXPIRE.to_be_bytes());
    options.extend_from_slice(&4u16.to_be_bytes());
    options.extend_from_slice(&remaining.to_be_bytes());
}

/// The data of each EDNS option of the message's OPT, with its code; a
/// malformed option list ends the walk.
pub fn edns_options(msg: &Message) -> impl Iterator<Item = (u16, &[u8])> {
    let d: &[u8] = msg.opt.as_ref().map_or(&[], |o| &o.rdata);
    let mut p = 0;
    std::iter::from_fn(move || {
        let head = d.get(p..p + 4)?;
        let code = u16::from_be_bytes([head[0], head[1]]);
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let data = d.get(p + 4..p + 4 + len)?;
        p += 4 + len;
        Some((code, data))
    })
}

/// The remaining expire time an answer gives (RFC 7314 §2: an EXPIRE option
/// of four octets, seconds); `None` without one, or when it is malformed.
pub fn expire_option(msg: &Message) -> Option<u32> {
    edns_options(msg).find(|(code, _)| *code == OPTION_EXPIRE).and_then(|(_, d)| {
        let d: [u8; 4] = d.try_into().ok()?;
        Some(u32::from_be_bytes(d))
    })
}

/// Builds the answer to a request we received, e.g. a NOTIFY (RFC 1996 §4.7: the reply echoes
/// the ID, opcode and question, with QR and AA set and no records). `rcode` is 4 bits.
///
/// At most the *first* question is echoed, whatever QDCOUNT the request had: a request of many
/// compressed questions must not become an answer of as many uncompressed ones (a reflection
/// amplifier, and over TCP more than a message can hold).
pub fn build_response(request: &Message, rcode: u16) -> Vec<u8> {
    let q = &request.header;
    // QR, the request's opcode, AA, RD copied (RFC 1035 §4.1.1), the RCODE.
    let flags = 0x8000 | (q.flags & 0x7800) | 0x0400 | (q.flags & 0x0100) | (rcode & 0x000f);
    let first = request.questions.first();
    let header = Header { id: q.id, flags, qdcount: u16::from(first.is_some()), ancount: 0, nscount: 0, arcount: 0 };
    let mut b = Vec::with_capacity(64);
    b.extend_from_slice(&header.to_bytes());
    if let Some(question) = first {
        b.extend_from_slice(question.name.as_wire());
        b.extend_from_slice(&question.qtype.to_be_bytes());
        b.extend_from_slice(&question.qclass.to_be_bytes());
    }
    b
}

/// Reads the ID of a message we built or received, `None` if it is shorter than a header.
pub fn message_id(buf: &[u8]) -> Option<u16> {
    buf.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]]))
}

/// Appends one RR in uncompressed form to a message being built and bumps the count of
/// `section` in its header. Used for TSIG and for responses we compose.
pub fn append_record(
    msg: &mut Vec<u8>,
    section: Section,
    owner: &Name,
    rt: u16,
    class: u16,
    ttl: u32,
    rdata: &[u8],
) -> Result<(), Cow<'static, str>> {
    let count_at = match section {
        Section::Answer => 6,
        Section::Authority => 8,
        Section::Additional => 10,
        Section::Header | Section::Question => return Err("cannot append a record there".into()),
    };
    let Some(count) = msg.get(count_at..count_at + 2) else {
        return Err("message shorter than its header".into());
    };
    let count = u16::from_be_bytes([count[0], count[1]]).checked_add(1).ok_or("section already holds 65535 records")?;
    let rdlen = u16::try_from(rdata.len()).map_err(|_| "RDATA longer than 65535 bytes")?;
    msg[count_at..count_at + 2].copy_from_slice(&count.to_be_bytes());
    msg.extend_from_slice(owner.as_wire());
    msg.extend_from_slice(&rt.to_be_bytes());
    msg.extend_from_slice(&class.to_be_bytes());
    msg.extend_from_slice(&ttl.to_be_bytes());
    msg.extend_from_slice(&rdlen.to_be_bytes());
    msg.extend_from_slice(rdata);
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::from_ascii(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn names_round_trip_through_presentation_form_with_escapes() {
        for (input, shown) in [
            ("example.test", "example.test."),
            ("Example.TEST.", "Example.TEST."),
            (".", "."),
            ("a\\.b.example.", "a\\.b.example."),
            ("a\\032b.example", "a\\032b.example."),
            ("a\\ b.example", "a\\032b.example."),
            ("\\@\\$\\;\\(\\)\\\"\\\\.x", "\\@\\$\\;\\(\\)\\\"\\\\.x."),
            ("\\255\\000.x.", "\\255\\000.x."),
        ] {
            let name = n(input);
            assert_eq!(name.to_string(), shown, "{input}");
            assert_eq!(n(&name.to_string()).as_wire(), name.as_wire(), "{input}");
        }
    }

    #[test]
    fn bad_presentation_names_are_rejected_with_a_reason() {
        for bad in ["", "a..b", "..", "a\\", "a\\25", "a\\256.b", &"x".repeat(64)] {
            assert!(Name::from_ascii(bad).is_err(), "{bad:?} accepted");
        }
        let long = vec!["abcdefghi"; 26].join(".");
        assert!(Name::from_ascii(&long).unwrap_err().0.contains("longer than 255"));
        let max = [vec!["a".repeat(63); 3], vec!["a".repeat(61)]].concat().join(".");
        assert_eq!(n(&max).as_wire().len(), 255);
    }

    #[test]
    fn subdomain_test_is_label_wise_and_case_insensitive() {
        let zone = n("Example.test.");
        assert!(n("www.EXAMPLE.test").is_subdomain_of(&zone));
        assert!(n("example.test").is_subdomain_of(&zone));
        assert!(!n("wwwexample.test").is_subdomain_of(&zone));
        assert!(!n("test").is_subdomain_of(&zone));
        assert!(n("anything.at.all").is_subdomain_of(&Name::root()));
        // A label containing the zone's wire bytes must not fool the check.
        assert!(!n("a\\007example\\004test.x").is_subdomain_of(&zone));
    }

    #[test]
    fn relative_names_are_empty_at_the_apex_and_absolute_outside_the_zone() {
        let zone = n("example.test");
        assert_eq!(n("example.test").relative_to(&zone), "");
        assert_eq!(n("a.B.example.test").relative_to(&zone), "a.B");
        assert_eq!(n("a\\.b.example.test").relative_to(&zone), "a\\.b");
        assert_eq!(n("other.test").relative_to(&zone), "other.test.");
        assert_eq!(n("www.example.test").label_count(), 3);
        assert_eq!(Name::root().label_count(), 0);
    }

    #[test]
    fn names_compare_and_hash_without_case() {
        use std::collections::HashSet;
        let a = n("WWW.example.test");
        let b = n("www.EXAMPLE.test.");
        assert_eq!(a, b);
        assert_ne!(a.as_wire(), b.as_wire());
        assert_eq!(a.to_lowercase().as_wire(), b.to_lowercase().as_wire());
        let set: HashSet<Name> = [a, b].into_iter().collect();
        assert_eq!(set.len(), 1);
    }

    /// Builds a response with the given answer records (owner, type, rdata) in uncompressed form.
    fn response(answers: &[(&[u8], u16, &[u8])]) -> Vec<u8> {
        let mut m = build_query(7, &n("example.test"), rtype::AXFR, None);
        m[2] |= 0x80;
        for (owner, t, rd) in answers {
            let owner = Name::from_wire(owner).unwrap_or_else(|e| panic!("{e}"));
            append_record(&mut m, Section::Answer, &owner, *t, class::IN, 60, rd).unwrap_or_else(|e| panic!("{e}"));
        }
        m
    }

    #[test]
    fn compressed_names_in_owner_and_mx_rdata_are_expanded() {
        let mut m = build_query(1, &n("example.test"), rtype::MX, None);
        m[2] |= 0x80;
        m[7] = 1; // ancount
        m.extend_from_slice(&[0xc0, 12]); // owner -> question name
        m.extend_from_slice(&rtype::MX.to_be_bytes());
        m.extend_from_slice(&class::IN.to_be_bytes());
        m.extend_from_slice(&300u32.to_be_bytes());
        m.extend_from_slice(&9u16.to_be_bytes());
        m.extend_from_slice(&[0, 10, 4, b'm', b'a', b'i', b'l', 0xc0, 12]);
        let msg = parse_message(&m).unwrap_or_else(|e| panic!("{e}"));
        let rr = &msg.answers[0];
        assert_eq!(rr.owner, n("example.test"));
        assert_eq!(rr.ttl, 300);
        let mut want = vec![0, 10];
        want.extend_from_slice(n("mail.example.test").as_wire());
        assert_eq!(rr.rdata, want);
    }

    #[test]
    fn records_are_the_same_when_owner_and_rdata_names_differ_only_in_case_for_the_rfc4034_types() {
        let w = |s: &str| n(s).as_wire().to_vec();
        let rec = |owner: &str, rt: u16, rdata: Vec<u8>| Record { owner: n(owner), rtype: rt, class: 1, ttl: 1, rdata };
        let mx = |name: &str| [&[0u8, 10][..], &w(name)].concat();
        assert!(rec("a.test", rtype::MX, mx("Mail.Test")).same_record(&rec("A.TEST", rtype::MX, mx("mail.test"))));
        assert!(!rec("a.test", rtype::MX, mx("mail.test")).same_record(&rec("a.test", rtype::MX, mx("mail2.test"))));
        let soa = |m: &str| [&w(m)[..], &w("h.test"), &[0; 20]].concat();
        assert!(same_rdata(rtype::SOA, &soa("NS.test"), &soa("ns.TEST")));
        let sig = |signer: &str| [&[0u8; 18][..], &w(signer), b"SIG"].concat();
        assert!(same_rdata(rtype::RRSIG, &sig("Example.test"), &sig("example.test")));
        let sig_lower = [&[0u8; 18][..], &w("example.test"), b"sig"].concat();
        assert!(!same_rdata(rtype::RRSIG, &sig("example.test"), &sig_lower), "the signature is octets");
        let a6 = |name: &str| [&[64u8][..], &[0; 8], &w(name)].concat();
        assert!(same_rdata(38, &a6("P.test"), &a6("p.test")));
        // RFC 6840 §5.1: NSEC names are not lowercased; TXT is octets.
        let nsec = |next: &str| [&w(next)[..], &[0, 1, 0x40]].concat();
        assert!(!same_rdata(rtype::NSEC, &nsec("B.test"), &nsec("b.test")));
        assert!(!same_rdata(rtype::TXT, b"\x01A", b"\x01a"));
        // Malformed RDATA is compared as it is.
        assert!(!same_rdata(rtype::MX, &[0, 10, 5, b'A'], &[0, 10, 5, b'a']));
    }

    #[test]
    fn zero_length_rdata_of_an_unknown_type_is_kept() {
        let m = response(&[(b"\x01x\x07example\x04test\x00", 65400, b"")]);
        let msg = parse_message(&m).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(msg.answers[0].rtype, 65400);
        assert!(msg.answers[0].rdata.is_empty());
    }

    #[test]
    fn a_pointer_loop_is_rejected_not_followed() {
        let mut m = build_query(1, &n("example.test"), rtype::A, None);
        m[2] |= 0x80;
        m[7] = 1;
        let at = m.len();
        m.extend_from_slice(&[1, b'a']);
        m.extend_from_slice(&[0xc0 | (at >> 8) as u8, at as u8]); // points at itself
        m.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 0, 0, 0]);
        let err = parse_message(&m).unwrap_err();
        assert!(matches!(err, WireError::Pointer { .. }), "{err}");
        // A forward pointer is refused too.
        let mut m2 = build_query(1, &n("example.test"), rtype::A, None);
        m2[2] |= 0x80;
        m2[7] = 1;
        m2.extend_from_slice(&[0xc0, 200, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert!(matches!(parse_message(&m2), Err(WireError::Pointer { target: 200, .. })));
    }

    #[test]
    fn a_truncated_answer_names_its_section_and_offset() {
        let m = response(&[(b"\x07example\x04test\x00", rtype::A, &[192, 0, 2, 1])]);
        let err = parse_message(&m[..m.len() - 2]).unwrap_err();
        assert_eq!(err.to_string(), format!("message truncated inside the answer section at byte {}", m.len() - 2));
        let err = parse_message(&m[..5]).unwrap_err();
        assert_eq!(err.to_string(), "message truncated inside the header at byte 5");
    }

    #[test]
    fn malformed_soa_rdata_is_an_error_not_a_panic() {
        let m = response(&[(b"\x07example\x04test\x00", rtype::SOA, &[0, 0, 1, 2, 3])]);
        let err = parse_message(&m).unwrap_err();
        assert!(err.to_string().starts_with("malformed SOA RDATA"), "{err}");
    }

    #[test]
    fn bytes_after_the_last_record_are_refused() {
        let mut m = response(&[]);
        m.push(0);
        assert!(matches!(parse_message(&m), Err(WireError::TrailingBytes { count: 1, .. })));
    }

    #[test]
    fn every_prefix_of_a_message_fails_cleanly() {
        let m = response(&[
            (b"\x07example\x04test\x00", rtype::NS, b"\x02ns\x07example\x04test\x00"),
            (b"\x03www\x07example\x04test\x00", 65400, b""),
        ]);
        assert!(parse_message(&m).is_ok());
        for len in 0..m.len() {
            assert!(parse_message(&m[..len]).is_err(), "prefix {len} parsed");
        }
    }

    #[test]
    fn ixfr_query_carries_our_serial_in_the_authority_soa() {
        let q = build_query(0x1234, &n("example.test"), rtype::IXFR, Some(2024010101));
        let msg = parse_message(&q).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(msg.header.id, 0x1234);
        assert_eq!(msg.questions[0].qtype, rtype::IXFR);
        assert_eq!(msg.authority[0].owner, n("example.test"));
        assert_eq!(msg.authority[0].soa_serial(), Some(2024010101));
        // hickory decodes it too, so primaries built on common codecs will.
        let h = hickory_proto::op::Message::from_vec(&q).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.authorities.len(), 1);
    }

    /// Bit flips, truncations and byte smashes of a compressed multi-type message: the reader,
    /// the interpreter and the printer must return errors, never panic or loop.
    #[test]
    fn mangled_messages_never_panic_the_reader_interpreter_or_printer() {
        use crate::xfr::interpret::{Interpreter, Limits, Request};
        let mut m = build_query(7, &n("example.test"), rtype::AXFR, None);
        m[2] |= 0x84;
        let rrs: &[(u16, &[u8])] = &[
            (rtype::SOA, &[0xc0, 12, 0xc0, 12, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]),
            (rtype::MX, &[0, 10, 4, b'm', b'a', b'i', b'l', 0xc0, 12]),
            (rtype::TXT, b"\x03abc\x00"),
            (rtype::SRV, &[0, 1, 0, 2, 0, 3, 0xc0, 12]),
            (rtype::NAPTR, &[0, 1, 0, 2, 1, b'U', 0, 0, 0]),
            (rtype::HTTPS, &[0, 1, 0, 0, 1, 0, 3, 2, b'h', b'2']),
            (65400, &[]),
            (rtype::SOA, &[0xc0, 12, 0xc0, 12, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]),
        ];
        for (t, rd) in rrs {
            m.extend_from_slice(&[0xc0, 12]);
            m.extend_from_slice(&t.to_be_bytes());
            m.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
            m.extend_from_slice(&(rd.len() as u16).to_be_bytes());
            m.extend_from_slice(rd);
        }
        m[7] = rrs.len() as u8;
        let msg = parse_message(&m).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(msg.answers.len(), rrs.len());

        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut parsed = 0;
        for _ in 0..50_000 {
            let mut b = m.clone();
            for _ in 0..1 + rnd() % 4 {
                let at = (rnd() as usize) % b.len();
                match rnd() % 3 {
                    0 => b[at] ^= 1 << (rnd() % 8),
                    1 => b[at] = rnd() as u8,
                    _ => b.truncate(at.max(1)),
                }
            }
            if let Ok(msg) = parse_message(&b) {
                parsed += 1;
                for r in msg.answers.iter().chain(&msg.authority) {
                    let _ = crate::wire::text::record_to_line(r);
                    let _ = crate::wire::text::dnsimple_content(r);
                }
                let mut i = Interpreter::new(n("example.test"), Request::Ixfr { current_serial: 4 }, Limits::NONE);
                let _ = i.feed(msg, b.len(), &mut Vec::new());
            }
        }
        assert!(parsed > 1000, "only {parsed} mutants parsed; the test exercises too little");
    }
}
