//! A small DNS client for the tests: one question to a server over UDP (one
//! datagram, 2 s timeout, one retry) or TCP (2-byte length framing), the reply
//! decoded with hickory-proto (an implementation independent of ours) and
//! normalised into an [`Answer`]: header flags, full rcode, the OPT, the echoed
//! question, and the three sections as sorted lists of records in one text
//! form, `owner ttl class type rdata`, so that two servers' answers compare as
//! sets whatever order they send. The owner and the domain names inside RDATA
//! are lower-cased (their case on the wire follows name compression); TXT,
//! HINFO and NAPTR strings are quoted and escaped byte for byte (hickory's own
//! display of them is lossy); unknown types use RFC 3597 `\# len hex`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns as HEdns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, Record, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};

/// How long one UDP attempt or a whole TCP exchange may take.
pub const TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    Udp,
    Tcp,
}

/// The EDNS(0) OPT of a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Edns {
    pub udp_size: u16,
    pub dnssec_ok: bool,
}

/// One question, exactly as it goes on the wire: `qname` keeps the case it is
/// given (upper-case and 0x20 mixed-case names stay as typed).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Question {
    pub qname: String,
    pub qtype: u16,
    pub rd: bool,
    pub edns: Option<Edns>,
    pub transport: Transport,
}

impl std::fmt::Display for Question {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let edns = match self.edns {
            None => "no EDNS".to_string(),
            Some(e) => format!("EDNS {}{}", e.udp_size, if e.dnssec_ok { " DO" } else { "" }),
        };
        let t = match self.transport {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        };
        write!(f, "{} {} RD={} {edns} {t}", self.qname, type_name(self.qtype), u8::from(self.rd))
    }
}

/// The OPT record of a reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opt {
    pub udp_size: u16,
    pub dnssec_ok: bool,
    pub version: u8,
}

/// A reply, normalised for comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The full rcode: header bits plus the extended bits of the OPT.
    pub rcode: u16,
    pub aa: bool,
    pub tc: bool,
    pub rd: bool,
    pub ra: bool,
    pub ad: bool,
    /// The OPT record, when the reply has one.
    pub opt: Option<Opt>,
    /// The question section as echoed (case kept: 0x20 resolvers check it).
    pub question: Vec<String>,
    pub answer: Vec<String>,
    pub authority: Vec<String>,
    pub additional: Vec<String>,
    /// Length of the reply in bytes (without the TCP length prefix).
    pub raw_len: usize,
}

impl Answer {
    pub fn rcode_name(&self) -> String {
        rcode_name(self.rcode)
    }
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let flags: Vec<&str> = [(self.aa, "aa"), (self.tc, "tc"), (self.rd, "rd"), (self.ra, "ra"), (self.ad, "ad")]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, n)| *n)
            .collect();
        let opt = match &self.opt {
            None => "no OPT".to_string(),
            Some(o) => format!("OPT udp={}{} v{}", o.udp_size, if o.dnssec_ok { " do" } else { "" }, o.version),
        };
        writeln!(
            f,
            "{} flags [{}] {opt} {} bytes; question {:?}",
            self.rcode_name(),
            flags.join(" "),
            self.raw_len,
            self.question
        )?;
        for (name, section) in
            [("ANSWER", &self.answer), ("AUTHORITY", &self.authority), ("ADDITIONAL", &self.additional)]
        {
            if !section.is_empty() {
                writeln!(f, "  ;; {name}")?;
                for r in section {
                    writeln!(f, "  {r}")?;
                }
            }
        }
        Ok(())
    }
}

/// Why a question got no [`Answer`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The question cannot be put on the wire (e.g. a label hickory refuses).
    Question(String),
    /// Nothing came back: timeout, refused connection, I/O error.
    NoReply(String),
    /// A reply came back but is not a valid answer to the question: hickory
    /// cannot decode it, or its id or opcode is wrong.
    BadReply(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Question(e) => write!(f, "cannot ask: {e}"),
            Failure::NoReply(e) => write!(f, "no reply: {e}"),
            Failure::BadReply(e) => write!(f, "bad reply: {e}"),
        }
    }
}

/// Asks `server` one question and returns the normalised reply, or why there is none.
pub fn ask(server: SocketAddr, q: &Question) -> Result<Answer, Failure> {
    let (id, wire) = build(q).map_err(Failure::Question)?;
    let reply = match q.transport {
        Transport::Udp => udp(server, id, &wire),
        Transport::Tcp => tcp(server, &wire),
    }
    .map_err(Failure::NoReply)?;
    parse(id, &reply).map_err(Failure::BadReply)
}

fn build(q: &Question) -> Result<(u16, Vec<u8>), String> {
    let name = Name::from_ascii(&q.qname).map_err(|e| format!("bad qname {:?}: {e}", q.qname))?;
    let mut m = Message::query();
    m.metadata.recursion_desired = q.rd;
    m.add_query(Query::query(name, RecordType::from(q.qtype)));
    if let Some(e) = q.edns {
        let mut edns = HEdns::new();
        edns.set_max_payload(e.udp_size).set_dnssec_ok(e.dnssec_ok);
        m.set_edns(edns);
    }
    let wire = m.to_vec().map_err(|e| format!("cannot encode the query: {e}"))?;
    Ok((m.metadata.id, wire))
}

fn udp(server: SocketAddr, id: u16, wire: &[u8]) -> Result<Vec<u8>, String> {
    let sock = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("bind a UDP socket: {e}"))?;
    sock.connect(server).map_err(|e| format!("connect UDP to {server}: {e}"))?;
    let mut buf = vec![0u8; 65535];
    for _attempt in 0..2 {
        sock.send(wire).map_err(|e| format!("send to {server}: {e}"))?;
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            sock.set_read_timeout(Some(left)).map_err(|e| format!("set timeout: {e}"))?;
            match sock.recv(&mut buf) {
                // A stray datagram (e.g. the late reply to the first attempt's
                // twin) is skipped; only our id counts.
                Ok(n) if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id => return Ok(buf[..n].to_vec()),
                Ok(_) => continue,
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => break,
                // ICMP port unreachable and the like: nobody listens.
                Err(e) => return Err(format!("UDP from {server}: {e}")),
            }
        }
    }
    Err(format!("no UDP answer from {server} in 2 × {} s", TIMEOUT.as_secs()))
}

fn tcp(server: SocketAddr, wire: &[u8]) -> Result<Vec<u8>, String> {
    let mut s = TcpStream::connect_timeout(&server, TIMEOUT).map_err(|e| format!("TCP connect to {server}: {e}"))?;
    s.set_read_timeout(Some(TIMEOUT)).map_err(|e| format!("set timeout: {e}"))?;
    s.set_write_timeout(Some(TIMEOUT)).map_err(|e| format!("set timeout: {e}"))?;
    let len = u16::try_from(wire.len()).map_err(|_| "query too long for TCP".to_string())?;
    let mut frame = len.to_be_bytes().to_vec();
    frame.extend_from_slice(wire);
    s.write_all(&frame).map_err(|e| format!("TCP send to {server}: {e}"))?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).map_err(|e| format!("TCP length from {server}: {e}"))?;
    let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut reply).map_err(|e| format!("TCP reply from {server}: {e}"))?;
    Ok(reply)
}

fn parse(id: u16, reply: &[u8]) -> Result<Answer, String> {
    let m = Message::from_vec(reply)
        .map_err(|e| format!("hickory cannot decode the reply ({} bytes): {e}", reply.len()))?;
    if m.metadata.id != id {
        return Err(format!("reply id {} for query id {id}", m.metadata.id));
    }
    if m.metadata.message_type != MessageType::Response || m.metadata.op_code != OpCode::Query {
        return Err(format!("not a QUERY response: {:?} {:?}", m.metadata.message_type, m.metadata.op_code));
    }
    let section = |records: &[Record]| {
        let mut v: Vec<String> = records.iter().map(record_text).collect();
        v.sort();
        v
    };
    Ok(Answer {
        rcode: u16::from(m.metadata.response_code),
        aa: m.metadata.authoritative,
        tc: m.metadata.truncation,
        rd: m.metadata.recursion_desired,
        ra: m.metadata.recursion_available,
        ad: m.metadata.authentic_data,
        opt: m.edns.as_ref().map(|e| Opt {
            udp_size: e.max_payload(),
            dnssec_ok: e.flags().dnssec_ok,
            version: e.version(),
        }),
        question: m
            .queries
            .iter()
            .map(|q| format!("{} {} {}", q.name(), class_name(q.query_class()), type_name(q.query_type().into())))
            .collect(),
        answer: section(&m.answers),
        authority: section(&m.authorities),
        additional: section(&m.additionals),
        raw_len: reply.len(),
    })
}

/// `owner ttl class type rdata`, owner lower-cased, RDATA in presentation form.
pub fn record_text(r: &Record) -> String {
    format!(
        "{} {} {} {} {}",
        r.name.to_lowercase(),
        r.ttl,
        class_name(r.dns_class),
        type_name(r.record_type().into()),
        rdata_text(r)
    )
}

fn class_name(c: DNSClass) -> String {
    match c {
        DNSClass::IN => "IN".to_string(),
        DNSClass::CH => "CH".to_string(),
        other => format!("CLASS{}", u16::from(other)),
    }
}

/// The mnemonic of a type, or `TYPEnnn` (RFC 3597) when hickory has none.
pub fn type_name(t: u16) -> String {
    match RecordType::from(t) {
        RecordType::Unknown(n) => format!("TYPE{n}"),
        known => known.to_string(),
    }
}

/// The mnemonic of a (full, extended) RCODE. 16 is BADVERS in an OPT
/// (RFC 6891) where our table, made for TSIG errors, says BADSIG (RFC 8945).
pub fn rcode_name(rcode: u16) -> String {
    match rcode {
        16 => "BADVERS".to_string(),
        other => secondaryd::wire::rcode::name(other).into_owned(),
    }
}

/// RDATA in presentation form, written by secondaryd's own presentation code
/// (`wire::text`, as `named-checkzone` reads it) from the RDATA hickory
/// decoded and encodes again in canonical form (RFC 4034 §6.2: names
/// uncompressed and lower-cased, so compression and its case do not show).
/// hickory decodes the replies of both servers; the same renderer then
/// writes both, so a difference in the text is a difference on the wire.
fn rdata_text(r: &Record) -> String {
    let mut buf = Vec::new();
    let mut enc = BinEncoder::new(&mut buf);
    enc.set_canonical_form(true);
    if let Err(e) = r.data.emit(&mut enc) {
        return format!("(hickory cannot encode this {} RDATA: {e})", type_name(r.record_type().into()));
    }
    secondaryd::wire::text::rdata_to_text(r.record_type().into(), &buf)
}
