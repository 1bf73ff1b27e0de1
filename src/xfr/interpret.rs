//! A sans-IO interpreter of AXFR (RFC 5936) and IXFR (RFC 1995) answers.
//!
//! It takes the parsed messages of one transfer in order and turns them into [`Update`]s, one
//! message at a time, so a zone of any size streams through without being buffered (the one
//! exception is noted on [`Update::BeginDiff`]). It does no I/O and knows no clock, so every rule
//! below is unit-tested from bytes.
//!
//! ```text
//!            AXFR                          IXFR
//!   Start ──SOA(S)──▶ Full ◀──non-SOA── Opened ──SOA(ours)──▶ Deleting ──SOA(to)──▶ Adding
//!                      │   (AXFR-style)  │  │                     ▲                  │  │
//!                      │                 │  └─message ends: lone  └────SOA(to)───────┘  │
//!                SOA(S)│                 │    SOA → UpToDate/NeedAxfr                   │
//!                      ▼                 └─SOA(≠ours) → NeedAxfr          SOA(new) when │
//!                    Done ◀───────────────────────────────────────────────── to == new ─┘
//! ```

use super::error::{Peer, QueryKind, XfrError};
use crate::wire::serial::Serial;
use crate::wire::text::{check_rdata, record_summary, type_name};
use crate::wire::{class, opcode, rcode, rtype, Message, Name, Record};

/// What we asked the primary for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    Axfr,
    /// IXFR from the serial we hold (RFC 1995 §3).
    Ixfr {
        current_serial: u32,
    },
}

impl Request {
    pub fn qtype(self) -> u16 {
        match self {
            Request::Axfr => rtype::AXFR,
            Request::Ixfr { .. } => rtype::IXFR,
        }
    }

    fn kind(self) -> QueryKind {
        match self {
            Request::Axfr => QueryKind::Axfr,
            Request::Ixfr { .. } => QueryKind::Ixfr,
        }
    }
}

/// Bounds on what one transfer may bring in, so a broken or hostile primary cannot exhaust memory
/// or disk. Records count every answer record except the closing SOA; bytes count whole messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_records: u64,
    pub max_bytes: u64,
}

impl Limits {
    /// No limits at all (tests, benchmarks).
    pub const NONE: Limits = Limits { max_records: u64::MAX, max_bytes: u64::MAX };
}

/// A change to apply to the stored zone, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// Replace the whole zone (AXFR, or AXFR-style IXFR): records follow as Add.
    BeginFull,
    /// One IXFR version step: delete records then add records (RFC 1995 §4).
    ///
    /// The step's target serial is only known when the new SOA arrives after the deletions, so
    /// the deletions of one step are held back until then; their memory is bounded by
    /// [`Limits`].
    BeginDiff {
        from: u32,
        to: u32,
    },
    Delete(Record),
    Add(Record),
}

/// How a transfer ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// AXFR or AXFR-style IXFR completed; `records` counts the zone's records including the apex
    /// SOA, excluding the closing SOA copy.
    Full { serial: u32, records: u64 },
    /// IXFR completed; `deleted`/`added` count the records of all steps, SOAs not included.
    Incremental { from: u32, to: u32, diffs: u32, deleted: u64, added: u64 },
    /// IXFR answered with a single SOA not newer than ours; `serial` is the primary's.
    UpToDate { serial: u32 },
    /// The primary cannot give us a usable IXFR; the caller retries with AXFR.
    NeedAxfr { reason: String },
}

/// Result of feeding one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    More,
    Done(Outcome),
}

#[derive(Debug, Default, Clone, Copy)]
struct DiffStats {
    diffs: u32,
    deleted: u64,
    added: u64,
}

enum State {
    /// Waiting for the opening SOA.
    Start,
    /// IXFR: only the opening SOA (serial `new`) seen so far.
    Opened {
        soa: Record,
        new: u32,
    },
    /// AXFR or AXFR-style IXFR: zone records until the SOA with `serial` comes back.
    Full {
        serial: u32,
        records: u64,
    },
    /// IXFR: the deletions of a step starting at `from`.
    Deleting {
        new: u32,
        from: u32,
        old_soa: Record,
        pending: Vec<Record>,
        stats: DiffStats,
    },
    /// IXFR: the additions of the step `from` → `to`.
    Adding {
        new: u32,
        to: u32,
        stats: DiffStats,
    },
    Done,
    /// An error was returned; the transfer is void.
    Failed,
}

/// The interpreter of one transfer. Create one per query; feed it every answer message in order.
pub struct Interpreter {
    zone: Name,
    request: Request,
    limits: Limits,
    query_id: Option<u16>,
    messages: u32,
    bytes: u64,
    records: u64,
    state: State,
}

impl Interpreter {
    pub fn new(zone: Name, request: Request, limits: Limits) -> Interpreter {
        Interpreter { zone, request, limits, query_id: None, messages: 0, bytes: 0, records: 0, state: State::Start }
    }

    /// The ID of our query: every answer message must carry it (RFC 5936 §2.2.1). Without it, the
    /// first message's ID is taken and the others must repeat it.
    pub fn with_query_id(mut self, id: u16) -> Interpreter {
        self.query_id = Some(id);
        self
    }

    /// Messages fed so far.
    pub fn messages(&self) -> u32 {
        self.messages
    }

    /// Whether the transfer has ended (a [`Progress::Done`] was returned).
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Interprets one answer message of `msg_len` bytes and appends its updates to `out`.
    ///
    /// Takes the message by value so records move into the updates without a copy. After an
    /// error, the interpreter must not be fed again, and everything emitted must be discarded.
    pub fn feed(&mut self, msg: Message, msg_len: usize, out: &mut Vec<Update>) -> Result<Progress, XfrError> {
        match self.state {
            State::Done => {
                return Err(XfrError::AfterEnd {
                    primary: Peer(None),
                    what: "another message after the end of the transfer".into(),
                })
            }
            State::Failed => {
                return Err(XfrError::AfterEnd {
                    primary: Peer(None),
                    what: "another message after the transfer had failed".into(),
                })
            }
            _ => {}
        }
        // Any early return below leaves the transfer failed; success paths set the next state.
        let result = self.feed_inner(msg, msg_len, out);
        if result.is_err() {
            self.state = State::Failed;
        }
        result
    }

    fn feed_inner(&mut self, msg: Message, msg_len: usize, out: &mut Vec<Update>) -> Result<Progress, XfrError> {
        self.messages += 1;
        self.bytes = self.bytes.saturating_add(msg_len as u64);
        if self.bytes > self.limits.max_bytes {
            return Err(XfrError::TooManyBytes { limit: self.limits.max_bytes });
        }
        let first = self.messages == 1;
        self.check_header(&msg)?;
        if let Some(done) = self.check_rcode(&msg)? {
            self.state = State::Done;
            return Ok(Progress::Done(done));
        }
        self.check_question(&msg, first)?;
        if first && msg.answers.is_empty() {
            return Err(XfrError::NoRecords { primary: Peer(None), query: self.request.kind() });
        }

        let count = msg.answers.len();
        let mut outcome = None;
        for (i, rec) in msg.answers.into_iter().enumerate() {
            if let Some(o) = self.record(rec, out)? {
                // Giving up on IXFR ends the exchange; the rest of the answer is of no use.
                if matches!(o, Outcome::NeedAxfr { .. }) {
                    self.state = State::Done;
                    return Ok(Progress::Done(o));
                }
                let left = count - i - 1;
                if left > 0 {
                    return Err(XfrError::AfterEnd {
                        primary: Peer(None),
                        what: format!("{left} record{} after the closing SOA", if left == 1 { "" } else { "s" }),
                    });
                }
                outcome = Some(o);
            }
        }
        if first {
            if let State::Opened { new, .. } = self.state {
                outcome = Some(self.lone_soa(new));
            }
        }
        match outcome {
            Some(o) => {
                self.state = State::Done;
                Ok(Progress::Done(o))
            }
            None => Ok(Progress::More),
        }
    }

    /// RFC 5936 §2.2.1: answers are responses to a QUERY with our ID; over TCP the TC bit has no
    /// business being set.
    fn check_header(&mut self, msg: &Message) -> Result<(), XfrError> {
        let h = &msg.header;
        let why = if !h.is_response() {
            Some("with the QR bit clear (a query, not an answer)")
        } else if h.opcode() != opcode::QUERY {
            Some("with an opcode other than QUERY")
        } else if h.tc() {
            Some("with the TC bit set, which is meaningless over TCP")
        } else {
            None
        };
        if let Some(why) = why {
            return Err(XfrError::NotAnAnswer { primary: Peer(None), message: self.messages, why });
        }
        let expected = *self.query_id.get_or_insert(h.id);
        if h.id != expected {
            return Err(XfrError::WrongId { primary: Peer(None), message: self.messages, expected, got: h.id });
        }
        Ok(())
    }

    /// An error RCODE ends the transfer. On the first answer to an IXFR, the codes a server uses
    /// when it does not do IXFR (RFC 1995 §2 expects NOTIMP or FORMERR from older servers; some
    /// answer REFUSED or SERVFAIL) mean "ask for AXFR instead"; everything else is an error.
    fn check_rcode(&self, msg: &Message) -> Result<Option<Outcome>, XfrError> {
        let code = msg.header.rcode();
        if code == rcode::NOERROR {
            return Ok(None);
        }
        let fallback = matches!(code, rcode::NOTIMP | rcode::REFUSED | rcode::FORMERR | rcode::SERVFAIL);
        if self.messages == 1 && fallback && matches!(self.request, Request::Ixfr { .. }) {
            return Ok(Some(Outcome::NeedAxfr {
                reason: format!("the primary answered IXFR with {}", rcode::name(code)),
            }));
        }
        Err(XfrError::Rcode { primary: Peer(None), query: self.request.kind(), rcode: code, message: self.messages })
    }

    /// RFC 5936 §2.2.1: the first message repeats our question; later ones may omit it, but if
    /// present it must match.
    fn check_question(&self, msg: &Message, first: bool) -> Result<(), XfrError> {
        let expected_type = self.request.qtype();
        let ok = match msg.questions.as_slice() {
            [] => !first,
            [q] => q.name == self.zone && q.qtype == expected_type && q.qclass == class::IN,
            _ => false,
        };
        if ok {
            return Ok(());
        }
        let got = match msg.questions.as_slice() {
            [] => "an empty question section".to_string(),
            qs => qs
                .iter()
                .map(|q| format!("{} {} {}", q.name, crate::wire::text::class_name(q.qclass), type_name(q.qtype)))
                .collect::<Vec<_>>()
                .join(", "),
        };
        Err(XfrError::Question {
            primary: Peer(None),
            message: self.messages,
            expected: format!("{} IN {}", self.zone, type_name(expected_type)),
            got,
        })
    }

    /// What a single-SOA answer to IXFR means (RFC 1995 §4): we are current if the primary's
    /// serial is not newer; if it is newer, the primary gave no difference, so we need AXFR.
    fn lone_soa(&self, new: u32) -> Outcome {
        let ours = match self.request {
            Request::Ixfr { current_serial } => current_serial,
            Request::Axfr => new,
        };
        if Serial(new).is_newer_than(Serial(ours)) {
            Outcome::NeedAxfr {
                reason: format!(
                    "the primary answered IXFR with only its SOA, serial {new}, newer than ours \
                     ({ours})"
                ),
            }
        } else {
            Outcome::UpToDate { serial: new }
        }
    }

    /// Class IN and inside the zone; SOAs only at the apex.
    fn check_record(&self, rec: &Record) -> Result<(), XfrError> {
        if rec.class != class::IN {
            return Err(XfrError::WrongClass { owner: rec.owner.clone(), rtype: rec.rtype, class: rec.class });
        }
        if !rec.owner.is_subdomain_of(&self.zone) {
            return Err(XfrError::OutsideZone { owner: rec.owner.clone(), zone: self.zone.clone() });
        }
        if rec.rtype == rtype::SOA && !rec.owner.eq_ignore_case(&self.zone) {
            return Err(XfrError::SoaBelowApex { owner: rec.owner.clone(), zone: self.zone.clone() });
        }
        Ok(())
    }

    /// RDATA that is well-formed for its type (`wire::text::check_rdata`): what we store must
    /// print, and load again, in its type's form. Only records the transfer adds are checked: a
    /// deletion names a record we hold or fails to match.
    fn check_rdata(rec: &Record) -> Result<(), XfrError> {
        check_rdata(rec.rtype, &rec.rdata).map_err(|why| XfrError::BadRdata {
            owner: rec.owner.clone(),
            rtype: rec.rtype,
            why,
        })
    }

    fn count(&mut self) -> Result<(), XfrError> {
        self.records += 1;
        if self.records > self.limits.max_records {
            return Err(XfrError::TooManyRecords { limit: self.limits.max_records });
        }
        Ok(())
    }

    /// One answer record; returns the outcome when it was the closing SOA.
    fn record(&mut self, rec: Record, out: &mut Vec<Update>) -> Result<Option<Outcome>, XfrError> {
        self.check_record(&rec)?;
        // The parser only accepts SOA RDATA of the right shape, so a SOA always has a serial.
        let soa = if rec.rtype == rtype::SOA { rec.soa_serial() } else { None };
        match std::mem::replace(&mut self.state, State::Failed) {
            State::Start => {
                let Some(serial) = soa else {
                    return Err(XfrError::FirstNotSoa {
                        primary: Peer(None),
                        zone: self.zone.clone(),
                        found: record_summary(&rec),
                    });
                };
                self.count()?;
                match self.request {
                    Request::Axfr => {
                        out.push(Update::BeginFull);
                        out.push(Update::Add(rec));
                        self.state = State::Full { serial, records: 1 };
                    }
                    Request::Ixfr { .. } => self.state = State::Opened { soa: rec, new: serial },
                }
                Ok(None)
            }
            State::Opened { soa: opening, new } => {
                let ours = match self.request {
                    Request::Ixfr { current_serial } => current_serial,
                    Request::Axfr => new,
                };
                match soa {
                    // RFC 1995 §4: a second record that is not a SOA (or repeats the first SOA,
                    // a zone of only a SOA) means the primary sent the whole zone.
                    Some(s) if s != new => {
                        if s != ours {
                            return Ok(Some(Outcome::NeedAxfr {
                                reason: format!("the primary's IXFR starts at serial {s}, not at ours ({ours})"),
                            }));
                        }
                        self.count()?;
                        self.state = State::Deleting {
                            new,
                            from: s,
                            old_soa: rec,
                            pending: Vec::new(),
                            stats: DiffStats::default(),
                        };
                        Ok(None)
                    }
                    _ => {
                        out.push(Update::BeginFull);
                        out.push(Update::Add(opening));
                        self.state = State::Full { serial: new, records: 1 };
                        self.record(rec, out)
                    }
                }
            }
            State::Full { serial, records } => {
                if let Some(closing) = soa {
                    if closing != serial {
                        return Err(XfrError::ClosingSerial { zone: self.zone.clone(), opening: serial, closing });
                    }
                    return Ok(Some(Outcome::Full { serial, records }));
                }
                self.count()?;
                Self::check_rdata(&rec)?;
                out.push(Update::Add(rec));
                self.state = State::Full { serial, records: records + 1 };
                Ok(None)
            }
            State::Deleting { new, from, old_soa, mut pending, mut stats } => {
                self.count()?;
                let Some(to) = soa else {
                    pending.push(rec);
                    self.state = State::Deleting { new, from, old_soa, pending, stats };
                    return Ok(None);
                };
                if !Serial(to).is_newer_than(Serial(from)) {
                    return Err(XfrError::Backwards { zone: self.zone.clone(), from, to });
                }
                stats.diffs += 1;
                stats.deleted += pending.len() as u64;
                out.reserve(pending.len() + 3);
                out.push(Update::BeginDiff { from, to });
                out.push(Update::Delete(old_soa));
                out.extend(pending.into_iter().map(Update::Delete));
                out.push(Update::Add(rec));
                self.state = State::Adding { new, to, stats };
                Ok(None)
            }
            State::Adding { new, to, mut stats } => {
                let Some(s) = soa else {
                    self.count()?;
                    Self::check_rdata(&rec)?;
                    stats.added += 1;
                    out.push(Update::Add(rec));
                    self.state = State::Adding { new, to, stats };
                    return Ok(None);
                };
                if s == new && to == new {
                    let from = match self.request {
                        Request::Ixfr { current_serial } => current_serial,
                        Request::Axfr => new,
                    };
                    return Ok(Some(Outcome::Incremental {
                        from,
                        to: new,
                        diffs: stats.diffs,
                        deleted: stats.deleted,
                        added: stats.added,
                    }));
                }
                if s != to || to == new {
                    return Err(XfrError::Chain { zone: self.zone.clone(), expected: to, got: s });
                }
                self.count()?;
                self.state = State::Deleting { new, from: to, old_soa: rec, pending: Vec::new(), stats };
                Ok(None)
            }
            State::Done | State::Failed => {
                Err(XfrError::AfterEnd { primary: Peer(None), what: "records after the end of the transfer".into() })
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
pub(crate) mod tests {
    use super::*;
    use crate::wire::{append_record, build_query, parse_message, Section};

    pub(crate) fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    pub(crate) fn soa(serial: u32) -> Record {
        let mut rdata = Vec::new();
        rdata.extend_from_slice(name("ns1.example.test").as_wire());
        rdata.extend_from_slice(name("hostmaster.example.test").as_wire());
        for v in [serial, 3600, 600, 86400, 300] {
            rdata.extend_from_slice(&v.to_be_bytes());
        }
        Record { owner: name("example.test"), rtype: rtype::SOA, class: class::IN, ttl: 3600, rdata }
    }

    pub(crate) fn a(owner: &str, last: u8) -> Record {
        Record { owner: name(owner), rtype: rtype::A, class: class::IN, ttl: 300, rdata: vec![192, 0, 2, last] }
    }

    /// The bytes of an answer message with ID 7 to `qtype` for example.test.
    pub(crate) fn answer_bytes(qtype: u16, rcode: u8, records: &[Record]) -> Vec<u8> {
        let mut m = build_query(7, &name("example.test"), qtype, None);
        m[2] |= 0x84; // QR, AA
        m[3] |= rcode;
        for r in records {
            append_record(&mut m, Section::Answer, &r.owner, r.rtype, r.class, r.ttl, &r.rdata)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        m
    }

    fn answer(qtype: u16, records: &[Record]) -> (Message, usize) {
        let b = answer_bytes(qtype, 0, records);
        (parse_message(&b).unwrap_or_else(|e| panic!("{e}")), b.len())
    }

    fn axfr() -> Interpreter {
        Interpreter::new(name("example.test"), Request::Axfr, Limits::NONE).with_query_id(7)
    }

    fn ixfr(ours: u32) -> Interpreter {
        Interpreter::new(name("example.test"), Request::Ixfr { current_serial: ours }, Limits::NONE).with_query_id(7)
    }

    /// Feeds each record list as one message; returns all updates and the last progress.
    fn run(mut i: Interpreter, qtype: u16, messages: &[Vec<Record>]) -> (Vec<Update>, Result<Progress, XfrError>) {
        let mut out = Vec::new();
        let mut last = Ok(Progress::More);
        for m in messages {
            let (msg, len) = answer(qtype, m);
            last = i.feed(msg, len, &mut out);
            if last.is_err() {
                break;
            }
        }
        (out, last)
    }

    fn err_text(r: Result<Progress, XfrError>) -> String {
        match r {
            Err(e) => e.to_string(),
            Ok(p) => panic!("expected an error, got {p:?}"),
        }
    }

    #[test]
    fn axfr_over_two_messages_adds_the_apex_soa_and_every_record_but_not_the_closing_soa() {
        let (out, p) = run(
            axfr(),
            rtype::AXFR,
            &[vec![soa(5), a("www.example.test", 1)], vec![a("mail.example.test", 2), soa(5)]],
        );
        assert_eq!(p.ok(), Some(Progress::Done(Outcome::Full { serial: 5, records: 3 })));
        assert_eq!(
            out,
            vec![
                Update::BeginFull,
                Update::Add(soa(5)),
                Update::Add(a("www.example.test", 1)),
                Update::Add(a("mail.example.test", 2)),
            ]
        );
    }

    #[test]
    fn axfr_emits_updates_message_by_message() {
        let mut i = axfr();
        let mut out = Vec::new();
        let (m1, l1) = answer(rtype::AXFR, &[soa(5), a("a.example.test", 1)]);
        assert_eq!(i.feed(m1, l1, &mut out).ok(), Some(Progress::More));
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn axfr_whose_closing_soa_has_another_serial_is_refused() {
        let (_, p) = run(axfr(), rtype::AXFR, &[vec![soa(5), a("a.example.test", 1), soa(6)]]);
        assert_eq!(err_text(p), "transfer of `example.test.` opened with SOA serial 5 but closed with serial 6");
    }

    #[test]
    fn axfr_answered_with_refused_is_an_error_naming_the_rcode() {
        let b = answer_bytes(rtype::AXFR, 5, &[]);
        let msg = parse_message(&b).unwrap_or_else(|e| panic!("{e}"));
        let err = axfr().feed(msg, b.len(), &mut Vec::new()).unwrap_err();
        assert_eq!(err.to_string(), "the primary answered AXFR with REFUSED");
        let err = err.with_primary("192.0.2.1:53".parse().unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(err.to_string(), "primary 192.0.2.1:53 answered AXFR with REFUSED");
    }

    #[test]
    fn ixfr_refused_notimp_formerr_or_servfail_asks_for_axfr() {
        for (code, text) in [(4, "NOTIMP"), (5, "REFUSED"), (1, "FORMERR"), (2, "SERVFAIL")] {
            let b = answer_bytes(rtype::IXFR, code, &[]);
            let msg = parse_message(&b).unwrap_or_else(|e| panic!("{e}"));
            let p = ixfr(1).feed(msg, b.len(), &mut Vec::new());
            assert_eq!(
                p.ok(),
                Some(Progress::Done(Outcome::NeedAxfr { reason: format!("the primary answered IXFR with {text}") }))
            );
        }
        // NOTAUTH is not a reason to try AXFR: it is a key problem.
        let b = answer_bytes(rtype::IXFR, 9, &[]);
        let msg = parse_message(&b).unwrap_or_else(|e| panic!("{e}"));
        assert!(ixfr(1).feed(msg, b.len(), &mut Vec::new()).is_err());
    }

    #[test]
    fn a_message_with_another_id_is_refused() {
        let mut b = answer_bytes(rtype::AXFR, 0, &[soa(5)]);
        b[1] = 8;
        let msg = parse_message(&b).unwrap_or_else(|e| panic!("{e}"));
        let err = axfr().feed(msg, b.len(), &mut Vec::new()).unwrap_err();
        assert_eq!(err.to_string(), "the primary sent message #1 with ID 8, our query had ID 7");
    }

    #[test]
    fn a_first_message_with_another_question_is_refused() {
        let (msg, len) = answer(rtype::IXFR, &[soa(5)]);
        let err = axfr().feed(msg, len, &mut Vec::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the primary answered a different question in message #1: \
             `example.test. IN IXFR` instead of `example.test. IN AXFR`"
        );
    }

    #[test]
    fn later_messages_may_omit_the_question() {
        let mut i = axfr();
        let mut out = Vec::new();
        let (m1, l1) = answer(rtype::AXFR, &[soa(5)]);
        assert_eq!(i.feed(m1, l1, &mut out).ok(), Some(Progress::More));
        let mut b = answer_bytes(rtype::AXFR, 0, &[]);
        // Drop the question: rebuild without it.
        let qlen = name("example.test").as_wire().len() + 4;
        b.drain(12..12 + qlen);
        b[5] = 0;
        append_record(&mut b, Section::Answer, &soa(5).owner, rtype::SOA, 1, 3600, &soa(5).rdata)
            .unwrap_or_else(|e| panic!("{e}"));
        let m2 = parse_message(&b).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(i.feed(m2, b.len(), &mut out), Ok(Progress::Done(Outcome::Full { serial: 5, records: 1 }))));
    }

    #[test]
    fn a_transfer_that_does_not_start_with_the_soa_is_refused() {
        let (_, p) = run(axfr(), rtype::AXFR, &[vec![a("www.example.test", 1), soa(5)]]);
        assert_eq!(
            err_text(p),
            "the primary began the transfer of `example.test.` with `www.example.test. A` \
             instead of the zone's SOA"
        );
    }

    #[test]
    fn a_record_outside_the_zone_is_refused() {
        let (_, p) = run(axfr(), rtype::AXFR, &[vec![soa(5), a("www.other.test", 1), soa(5)]]);
        assert_eq!(err_text(p), "record `www.other.test.` is outside zone `example.test.`");
    }

    #[test]
    fn a_record_of_another_class_is_refused() {
        let mut r = a("www.example.test", 1);
        r.class = class::CH;
        let (_, p) = run(axfr(), rtype::AXFR, &[vec![soa(5), r, soa(5)]]);
        assert_eq!(err_text(p), "record `www.example.test. A` has class CH, expected IN");
    }

    #[test]
    fn records_after_the_closing_soa_are_refused() {
        let (_, p) = run(axfr(), rtype::AXFR, &[vec![soa(5), soa(5), a("www.example.test", 1)]]);
        assert_eq!(err_text(p), "the primary sent 1 record after the closing SOA");
        let mut i = axfr();
        let mut out = Vec::new();
        let (m, l) = answer(rtype::AXFR, &[soa(5), soa(5)]);
        assert!(i.feed(m, l, &mut out).is_ok());
        let (m, l) = answer(rtype::AXFR, &[a("x.example.test", 1)]);
        assert_eq!(
            i.feed(m, l, &mut out).unwrap_err().to_string(),
            "the primary sent another message after the end of the transfer"
        );
    }

    #[test]
    fn zero_length_rdata_is_transferred() {
        let empty = Record { owner: name("x.example.test"), rtype: 65400, class: class::IN, ttl: 60, rdata: vec![] };
        let (out, p) = run(axfr(), rtype::AXFR, &[vec![soa(5), empty.clone(), soa(5)]]);
        assert!(p.is_ok());
        assert_eq!(out.last(), Some(&Update::Add(empty)));
    }

    #[test]
    fn malformed_rdata_of_a_known_type_fails_the_transfer_naming_the_record() {
        let rec = |rt: u16, rdata: &[u8]| Record {
            owner: name("bad.example.test"),
            rtype: rt,
            class: class::IN,
            ttl: 60,
            rdata: rdata.to_vec(),
        };
        for (r, why) in [
            (rec(rtype::A, &[192, 0, 2]), "`bad.example.test. A` has malformed RDATA: RDLENGTH is 3, an IPv4 address is 4 bytes"),
            (rec(rtype::A, &[]), "`bad.example.test. A` has malformed RDATA: RDLENGTH is 0, an IPv4 address is 4 bytes"),
            (rec(rtype::AAAA, &[0x20, 1, 0xd, 0xb8, 0]), "`bad.example.test. AAAA` has malformed RDATA: RDLENGTH is 5, an IPv6 address is 16 bytes"),
            (
                rec(rtype::TXT, b"\x05ab"),
                "`bad.example.test. TXT` has malformed RDATA: the character-string at byte 0 is 5 bytes long but only 2 bytes of RDATA follow",
            ),
        ] {
            let (_, p) = run(axfr(), rtype::AXFR, &[vec![soa(5), a("www.example.test", 1), r.clone(), soa(5)]]);
            assert_eq!(err_text(p), format!("record {why}"));
            // The same record added by an IXFR step.
            let (_, p) = run(ixfr(1), rtype::IXFR, &[vec![soa(2), soa(1), soa(2), r, soa(2)]]);
            assert_eq!(err_text(p), format!("record {why}"));
        }
    }

    #[test]
    fn an_ixfr_may_delete_a_record_whose_rdata_is_malformed() {
        // A copy stored before RDATA was checked can still be cleaned up by the primary.
        let bad =
            Record { owner: name("old.example.test"), rtype: rtype::A, class: class::IN, ttl: 60, rdata: vec![1] };
        let (out, p) = run(ixfr(1), rtype::IXFR, &[vec![soa(2), soa(1), bad.clone(), soa(2), soa(2)]]);
        assert!(matches!(p, Ok(Progress::Done(Outcome::Incremental { deleted: 1, .. }))), "{p:?}");
        assert!(out.contains(&Update::Delete(bad)));
    }

    #[test]
    fn exceeding_the_record_limit_is_refused() {
        let i = Interpreter::new(name("example.test"), Request::Axfr, Limits { max_records: 2, max_bytes: u64::MAX });
        let (_, p) = run(i, rtype::AXFR, &[vec![soa(5), a("a.example.test", 1), a("b.example.test", 1), soa(5)]]);
        assert_eq!(err_text(p), "zone exceeds the limit of 2 records");
        // Exactly at the limit is fine: the closing SOA does not count.
        let i = Interpreter::new(name("example.test"), Request::Axfr, Limits { max_records: 2, max_bytes: u64::MAX });
        let (_, p) = run(i, rtype::AXFR, &[vec![soa(5), a("a.example.test", 1), soa(5)]]);
        assert!(p.is_ok());
    }

    #[test]
    fn exceeding_the_byte_limit_is_refused() {
        let i = Interpreter::new(name("example.test"), Request::Axfr, Limits { max_records: u64::MAX, max_bytes: 100 });
        let (_, p) = run(i, rtype::AXFR, &[vec![soa(5), a("a.example.test", 1)], vec![a("b.example.test", 1), soa(5)]]);
        assert_eq!(err_text(p), "transfer exceeds the limit of 100 bytes");
    }

    #[test]
    fn condensed_ixfr_turns_the_soa_over_and_reports_counts() {
        let (out, p) = run(
            ixfr(1),
            rtype::IXFR,
            &[vec![
                soa(3),
                soa(1),
                a("old.example.test", 1),
                soa(3),
                a("new.example.test", 2),
                a("new2.example.test", 3),
                soa(3),
            ]],
        );
        assert_eq!(
            p.ok(),
            Some(Progress::Done(Outcome::Incremental { from: 1, to: 3, diffs: 1, deleted: 1, added: 2 }))
        );
        assert_eq!(
            out,
            vec![
                Update::BeginDiff { from: 1, to: 3 },
                Update::Delete(soa(1)),
                Update::Delete(a("old.example.test", 1)),
                Update::Add(soa(3)),
                Update::Add(a("new.example.test", 2)),
                Update::Add(a("new2.example.test", 3)),
            ]
        );
    }

    #[test]
    fn multi_step_ixfr_across_messages_emits_each_step_in_order() {
        let (out, p) = run(
            ixfr(1),
            rtype::IXFR,
            &[
                vec![soa(3), soa(1), a("a.example.test", 1)],
                vec![soa(2), a("b.example.test", 2), soa(2)],
                vec![soa(3), soa(3)],
            ],
        );
        assert_eq!(
            p.ok(),
            Some(Progress::Done(Outcome::Incremental { from: 1, to: 3, diffs: 2, deleted: 1, added: 1 }))
        );
        assert_eq!(
            out,
            vec![
                Update::BeginDiff { from: 1, to: 2 },
                Update::Delete(soa(1)),
                Update::Delete(a("a.example.test", 1)),
                Update::Add(soa(2)),
                Update::Add(a("b.example.test", 2)),
                Update::BeginDiff { from: 2, to: 3 },
                Update::Delete(soa(2)),
                Update::Add(soa(3)),
            ]
        );
    }

    #[test]
    fn ixfr_answered_with_the_whole_zone_is_a_full_transfer() {
        let (out, p) = run(ixfr(1), rtype::IXFR, &[vec![soa(9), a("www.example.test", 1)], vec![soa(9)]]);
        assert_eq!(p.ok(), Some(Progress::Done(Outcome::Full { serial: 9, records: 2 })));
        assert_eq!(out, vec![Update::BeginFull, Update::Add(soa(9)), Update::Add(a("www.example.test", 1))]);
    }

    #[test]
    fn a_lone_soa_not_newer_than_ours_means_up_to_date() {
        for primary in [5, 4] {
            let (out, p) = run(ixfr(5), rtype::IXFR, &[vec![soa(primary)]]);
            assert_eq!(p.ok(), Some(Progress::Done(Outcome::UpToDate { serial: primary })));
            assert!(out.is_empty());
        }
        // Across the wrap-around, 4294967295 is older than 5.
        let (_, p) = run(ixfr(5), rtype::IXFR, &[vec![soa(u32::MAX)]]);
        assert!(matches!(p, Ok(Progress::Done(Outcome::UpToDate { .. }))));
    }

    #[test]
    fn a_lone_newer_soa_asks_for_axfr() {
        let (_, p) = run(ixfr(5), rtype::IXFR, &[vec![soa(6)]]);
        assert_eq!(
            p.ok(),
            Some(Progress::Done(Outcome::NeedAxfr {
                reason: "the primary answered IXFR with only its SOA, serial 6, newer than ours (5)".into()
            }))
        );
    }

    #[test]
    fn an_ixfr_that_does_not_start_at_our_serial_asks_for_axfr() {
        let (out, p) = run(ixfr(1), rtype::IXFR, &[vec![soa(3), soa(2), soa(3), soa(3)]]);
        assert!(matches!(p, Ok(Progress::Done(Outcome::NeedAxfr { .. }))));
        assert!(out.is_empty());
    }

    #[test]
    fn ixfr_steps_that_do_not_chain_are_refused() {
        let (_, p) = run(ixfr(1), rtype::IXFR, &[vec![soa(4), soa(1), soa(2), soa(3), soa(4), soa(4)]]);
        assert_eq!(
            err_text(p),
            "IXFR of `example.test.` does not chain: after the step to serial 2 came a SOA \
             with serial 3"
        );
    }

    #[test]
    fn an_ixfr_step_backwards_is_refused() {
        let (_, p) = run(ixfr(5), rtype::IXFR, &[vec![soa(6), soa(5), soa(4)]]);
        assert_eq!(err_text(p), "IXFR of `example.test.` contains a step from serial 5 to 4, which is not newer");
    }

    #[test]
    fn an_ixfr_cut_off_mid_diff_is_not_done() {
        let mut i = ixfr(1);
        let mut out = Vec::new();
        let (m, l) = answer(rtype::IXFR, &[soa(3), soa(1), a("a.example.test", 1), soa(3)]);
        assert_eq!(i.feed(m, l, &mut out).ok(), Some(Progress::More));
        assert!(!i.is_done());
    }

    #[test]
    fn a_soa_below_the_apex_is_refused() {
        let mut s = soa(5);
        s.owner = name("sub.example.test");
        let (_, p) = run(axfr(), rtype::AXFR, &[vec![soa(5), s]]);
        assert_eq!(err_text(p), "SOA record at `sub.example.test.` below the apex of zone `example.test.`");
    }

    #[test]
    fn a_zone_of_only_its_soa_transfers_by_ixfr_as_a_full_zone() {
        let (out, p) = run(ixfr(1), rtype::IXFR, &[vec![soa(2), soa(2)]]);
        assert_eq!(p.ok(), Some(Progress::Done(Outcome::Full { serial: 2, records: 1 })));
        assert_eq!(out, vec![Update::BeginFull, Update::Add(soa(2))]);
    }

    #[test]
    fn an_empty_first_answer_is_refused() {
        let (_, p) = run(axfr(), rtype::AXFR, &[vec![]]);
        assert_eq!(err_text(p), "the primary answered AXFR without any record");
    }
}
