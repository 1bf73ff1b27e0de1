//! The DNS codec: the ground floor that transfers in and out, answers, NOTIFY, the store and the
//! API all share. It imports nothing else of ours.
//!
//! - [`name`]: `Name`, an absolute name in wire form, compared without case.
//! - [`types`]: record types, classes, RCODEs, opcodes and their mnemonics.
//! - [`message`]: our reader of DNS messages (one bounds-checked forward pass, RDATA kept as
//!   canonical wire bytes, zero-length RDATA allowed) and the few messages we build.
//! - [`text`]: presentation format (the master file as `named-checkzone` reads it, DNSimple
//!   `content`), built on the wire form, never the other way round.
//! - [`tsig`]: RFC 8945 signing and verification, for single messages and transfer streams.
//! - [`serial`]: RFC 1982 serial number arithmetic.
//!
//! Why our own codec rather than hickory-proto's: its decoder refuses records with zero-length
//! RDATA outside UPDATE messages (an AXFR of a zone holding `x TYPE65400 \# 0` fails), its
//! presentation format is lossy, and its TSIG verifier cannot take the unsigned intermediate
//! messages RFC 8945 §5.3.1 allows. hickory-proto remains a dev-dependency: the tests prove our
//! messages and signatures interoperate with it.

pub mod message;
pub mod name;
pub mod serial;
pub mod text;
pub mod tsig;
pub mod types;
pub mod writer;

pub use message::*;
pub use name::*;
pub use serial::Serial;
pub use types::{class, opcode, rcode, rtype};
pub use writer::{Full, MessageWriter};
