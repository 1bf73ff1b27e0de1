//! Zone transfer core: SOA queries, AXFR/IXFR in, TSIG.
pub mod client;
pub mod error;
pub mod interpret;
pub mod serial;
pub mod text;
pub mod tsig;
pub mod wire;

pub use error::XfrError;
