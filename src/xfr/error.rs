//! The error of a SOA query or a zone transfer, worded for an operator.
//!
//! One enum for the whole transfer path so the caller can store `to_string()` as the zone's
//! `last_error` and still match on the kind. Errors found by the sans-IO parts (interpreter, TSIG
//! verifier) do not know which primary they talk to; the client fills it in with
//! [`XfrError::with_primary`] before returning, so every sentence names the primary where that
//! helps.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use crate::wire::text::type_name;
use crate::wire::tsig::TsigError;
use crate::wire::{rcode, Name, WireError};

/// The primary a message came from, when known. Displays as `primary 192.0.2.1:53` or
/// `the primary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Peer(pub Option<SocketAddr>);

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(a) => write!(f, "primary {a}"),
            None => f.write_str("the primary"),
        }
    }
}

/// Which query an answer belongs to, for sentences like "answered IXFR with REFUSED".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryKind {
    Soa,
    Axfr,
    Ixfr,
}

impl fmt::Display for QueryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QueryKind::Soa => "the SOA query",
            QueryKind::Axfr => "AXFR",
            QueryKind::Ixfr => "IXFR",
        })
    }
}

/// Everything that can make a SOA query or a transfer fail. Any error means the caller discards
/// whatever updates it received for this transfer.
#[derive(Debug)]
pub enum XfrError {
    /// TCP connect failed (refused, unreachable, …).
    Connect {
        primary: SocketAddr,
        error: io::Error,
    },
    ConnectTimeout {
        primary: SocketAddr,
        after: Duration,
    },
    /// Reading or writing the connection or socket failed.
    Io {
        primary: SocketAddr,
        error: io::Error,
    },
    /// The primary closed the TCP connection before the transfer was complete.
    Closed {
        primary: SocketAddr,
        messages: u32,
    },
    /// No complete message arrived within the idle timeout (RFC 5936 §4.1 leaves timeouts to us).
    IdleTimeout {
        primary: SocketAddr,
        after: Duration,
    },
    /// The whole transfer took longer than allowed.
    TotalTimeout {
        primary: SocketAddr,
        after: Duration,
        messages: u32,
    },
    /// A UDP SOA query got no usable answer in time.
    SoaTimeout {
        primary: SocketAddr,
        after: Duration,
    },
    /// A TCP length prefix of zero (RFC 1035 §4.2.2 frames always hold a message).
    EmptyFrame {
        primary: SocketAddr,
        messages: u32,
    },
    /// The task consuming zone updates went away, so nobody would store the transfer.
    ReceiverGone,
    /// A message did not parse.
    Malformed {
        primary: Peer,
        message: u32,
        error: WireError,
    },
    /// A message that is not a plausible answer to our query (QR clear, other opcode, TC over TCP).
    NotAnAnswer {
        primary: Peer,
        message: u32,
        why: &'static str,
    },
    WrongId {
        primary: Peer,
        message: u32,
        expected: u16,
        got: u16,
    },
    /// The question section does not echo our question (RFC 5936 §2.2.1).
    Question {
        primary: Peer,
        message: u32,
        expected: String,
        got: String,
    },
    /// A non-NOERROR RCODE that is not a reason to fall back to AXFR.
    Rcode {
        primary: Peer,
        query: QueryKind,
        rcode: u16,
        message: u32,
    },
    Tsig {
        primary: Peer,
        error: TsigError,
    },
    /// The first answer is empty.
    NoRecords {
        primary: Peer,
        query: QueryKind,
    },
    /// The first record is not the zone's SOA (RFC 5936 §2.2, RFC 1995 §4).
    FirstNotSoa {
        primary: Peer,
        zone: Name,
        found: String,
    },
    OutsideZone {
        owner: Name,
        zone: Name,
    },
    WrongClass {
        owner: Name,
        rtype: u16,
        class: u16,
    },
    /// A SOA record below the apex: no zone can contain one.
    SoaBelowApex {
        owner: Name,
        zone: Name,
    },
    /// A record's RDATA does not fit its type (it would not load in a master-file parser).
    BadRdata {
        owner: Name,
        rtype: u16,
        why: crate::wire::text::RdataError,
    },
    /// AXFR: the closing SOA differs from the opening one (RFC 5936 §2.2).
    ClosingSerial {
        zone: Name,
        opening: u32,
        closing: u32,
    },
    /// IXFR: consecutive version steps do not join up (RFC 1995 §4).
    Chain {
        zone: Name,
        expected: u32,
        got: u32,
    },
    /// IXFR: a version step that does not go forward in RFC 1982 terms.
    Backwards {
        zone: Name,
        from: u32,
        to: u32,
    },
    TooManyRecords {
        limit: u64,
    },
    TooManyBytes {
        limit: u64,
    },
    /// Records or messages after the closing SOA (RFC 5936 §2.2: it ends the transfer).
    AfterEnd {
        primary: Peer,
        what: String,
    },
    /// The SOA answer lacks the AA bit: the server does not serve the zone authoritatively.
    NotAuthoritative {
        primary: Peer,
        zone: Name,
    },
    /// The SOA answer holds no SOA record for the zone.
    NoSoa {
        primary: Peer,
        zone: Name,
    },
}

impl XfrError {
    /// Names the primary in errors raised by the sans-IO parts, which do not know it.
    pub fn with_primary(mut self, addr: SocketAddr) -> XfrError {
        match &mut self {
            XfrError::Malformed { primary, .. }
            | XfrError::NotAnAnswer { primary, .. }
            | XfrError::WrongId { primary, .. }
            | XfrError::Question { primary, .. }
            | XfrError::Rcode { primary, .. }
            | XfrError::Tsig { primary, .. }
            | XfrError::NoRecords { primary, .. }
            | XfrError::FirstNotSoa { primary, .. }
            | XfrError::AfterEnd { primary, .. }
            | XfrError::NotAuthoritative { primary, .. }
            | XfrError::NoSoa { primary, .. } => {
                primary.0.get_or_insert(addr);
            }
            _ => {}
        }
        self
    }
}

/// "10 s", "1.5 s", "250 ms".
struct Secs(Duration);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d < Duration::from_secs(1) {
            write!(f, "{} ms", d.as_millis())
        } else if d.subsec_millis() == 0 {
            write!(f, "{} s", d.as_secs())
        } else {
            write!(f, "{:.1} s", d.as_secs_f64())
        }
    }
}

impl fmt::Display for XfrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XfrError::Connect { primary, error } => {
                write!(f, "could not connect to primary {primary}: {error}")
            }
            XfrError::ConnectTimeout { primary, after } => {
                write!(f, "timed out after {} connecting to primary {primary}", Secs(*after))
            }
            XfrError::Io { primary, error } => {
                write!(f, "connection to primary {primary} failed: {error}")
            }
            XfrError::Closed { primary, messages: 0 } => {
                write!(f, "primary {primary} closed the connection without answering")
            }
            XfrError::Closed { primary, messages } => write!(
                f,
                "primary {primary} closed the connection after {messages} message{}, \
                 before the closing SOA",
                plural(*messages)
            ),
            XfrError::IdleTimeout { primary, after } => {
                write!(f, "timed out after {} waiting for the next message from primary {primary}", Secs(*after))
            }
            XfrError::TotalTimeout { primary, after, messages } => write!(
                f,
                "transfer from primary {primary} did not finish within {} \
                 ({messages} message{} received)",
                Secs(*after),
                plural(*messages)
            ),
            XfrError::SoaTimeout { primary, after } => {
                write!(f, "timed out after {} waiting for primary {primary} to answer the SOA query", Secs(*after))
            }
            XfrError::EmptyFrame { primary, messages } => {
                write!(f, "primary {primary} sent a frame of 0 bytes after {messages} message{}", plural(*messages))
            }
            XfrError::ReceiverGone => f.write_str("the task storing the zone stopped, so the transfer was abandoned"),
            XfrError::Malformed { primary, message, error } => {
                write!(f, "{primary} sent a malformed message #{message}: {error}")
            }
            XfrError::NotAnAnswer { primary, message, why } => write!(f, "{primary} sent message #{message} {why}"),
            XfrError::WrongId { primary, message, expected, got } => {
                write!(f, "{primary} sent message #{message} with ID {got}, our query had ID {expected}")
            }
            XfrError::Question { primary, message, expected, got } => write!(
                f,
                "{primary} answered a different question in message #{message}: \
                 `{got}` instead of `{expected}`"
            ),
            XfrError::Rcode { primary, query, rcode: code, message: 1 } => {
                write!(f, "{primary} answered {query} with {}", rcode::name(*code))
            }
            XfrError::Rcode { primary, query, rcode: code, message } => {
                write!(f, "{primary} aborted {query} with {} in message #{message}", rcode::name(*code))
            }
            XfrError::Tsig { primary, error } => write!(f, "{primary} {error}"),
            XfrError::NoRecords { primary, query } => {
                write!(f, "{primary} answered {query} without any record")
            }
            XfrError::FirstNotSoa { primary, zone, found } => {
                write!(f, "{primary} began the transfer of `{zone}` with `{found}` instead of the zone's SOA")
            }
            XfrError::OutsideZone { owner, zone } => {
                write!(f, "record `{owner}` is outside zone `{zone}`")
            }
            XfrError::WrongClass { owner, rtype, class } => write!(
                f,
                "record `{owner} {}` has class {}, expected IN",
                type_name(*rtype),
                crate::wire::text::class_name(*class)
            ),
            XfrError::SoaBelowApex { owner, zone } => {
                write!(f, "SOA record at `{owner}` below the apex of zone `{zone}`")
            }
            XfrError::BadRdata { owner, rtype, why } => {
                write!(f, "record `{owner} {}` has malformed RDATA: {why}", type_name(*rtype))
            }
            XfrError::ClosingSerial { zone, opening, closing } => {
                write!(f, "transfer of `{zone}` opened with SOA serial {opening} but closed with serial {closing}")
            }
            XfrError::Chain { zone, expected, got } => write!(
                f,
                "IXFR of `{zone}` does not chain: after the step to serial {expected} came a SOA \
                 with serial {got}"
            ),
            XfrError::Backwards { zone, from, to } => {
                write!(f, "IXFR of `{zone}` contains a step from serial {from} to {to}, which is not newer")
            }
            XfrError::TooManyRecords { limit } => {
                write!(f, "zone exceeds the limit of {limit} records")
            }
            XfrError::TooManyBytes { limit } => {
                write!(f, "transfer exceeds the limit of {limit} bytes")
            }
            XfrError::AfterEnd { primary, what } => write!(f, "{primary} sent {what}"),
            XfrError::NotAuthoritative { primary, zone } => {
                write!(f, "{primary} is not authoritative for `{zone}` (its SOA answer lacks the AA bit)")
            }
            XfrError::NoSoa { primary, zone } => {
                write!(f, "{primary} answered the SOA query for `{zone}` without a SOA record")
            }
        }
    }
}

impl std::error::Error for XfrError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            XfrError::Connect { error, .. } | XfrError::Io { error, .. } => Some(error),
            XfrError::Malformed { error, .. } => Some(error),
            XfrError::Tsig { error, .. } => Some(error),
            _ => None,
        }
    }
}

fn plural(n: u32) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
