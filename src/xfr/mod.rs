//! The zone-transfer core: how a secondary learns a primary's serial and copies its zone.
//!
//! ```text
//!            query_soa ──UDP (TCP if TC)──▶ SoaAnswer { serial, refresh, … }
//!
//!  transfer: TCP ─▶ 2-byte frames ─▶ wire::parse_message ─▶ tsig::StreamVerifier
//!                                                            │
//!                                   interpret::Interpreter ◀─┘
//!                                            │ Vec<Update> per ~1000 records
//!                                            ▼
//!                          mpsc::Sender (send().await: the store sets the pace)
//! ```
//!
//! - [`wire`]: our own reader of DNS messages (names decompressed, RDATA kept as canonical wire
//!   bytes, zero-length RDATA allowed), `Name`, and the few queries we build.
//! - [`interpret`]: sans-IO AXFR (RFC 5936) / IXFR (RFC 1995) state machine, unit-tested from
//!   bytes; turns messages into `Update`s and an `Outcome`.
//! - [`tsig`]: RFC 8945 signing of our queries and verification of answer streams in which up to
//!   99 messages in a row may be unsigned (§5.3.1); NOTIFY request/response helpers.
//! - [`client`]: the thin tokio I/O loop with connect/idle/total timeouts and backpressure.
//! - [`text`]: presentation format (master file as `named-checkzone` reads it, DNSimple content).
//! - [`serial`]: RFC 1982 serial arithmetic.
//! - [`error`]: `XfrError`, one sentence per failure, naming the primary and zone.
//!
//! hickory-proto is not used on this path (see `shared/notes/hickory.md`: it rejects zero-length
//! RDATA in AXFR, its stream verifier rejects unsigned intermediate messages, and its transfer
//! client can drop messages); it remains a dev-dependency of the tests, which prove that our TSIG
//! interoperates with its signer.

pub mod client;
pub mod error;
pub mod interpret;
pub mod serial;
pub mod text;
pub mod tsig;
pub mod wire;

pub use client::{query_soa, transfer, SoaAnswer, Summary, TransferOptions};
pub use error::XfrError;
pub use interpret::{Interpreter, Limits, Outcome, Progress, Request, Update};
pub use serial::Serial;
pub use tsig::{Algorithm, StreamVerifier, TsigKey};
pub use wire::{Message, Name, Record};
