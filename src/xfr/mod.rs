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
//! - [`interpret`]: sans-IO AXFR (RFC 5936) / IXFR (RFC 1995) state machine, unit-tested from
//!   bytes; turns messages into `Update`s and an `Outcome`.
//! - [`client`]: the thin tokio I/O loop with connect/idle/total timeouts and backpressure.
//! - [`pool`]: connections kept a few seconds for the next transfer from the same primary.
//! - [`error`]: `XfrError`, one sentence per failure, naming the primary and zone.
//!
//! The messages, names, TSIG and serial arithmetic come from [`crate::wire`], which also serves
//! NOTIFY and answers.

pub mod client;
pub mod error;
pub mod interpret;
pub mod pool;

pub use client::{query_soa, transfer, SoaAnswer, Summary, TransferOptions};
pub use error::XfrError;
pub use interpret::{Interpreter, Limits, Outcome, Progress, Request, Update};
