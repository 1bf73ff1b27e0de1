//! Zones: names, timer arithmetic, the engine that runs zone events (the
//! refresh handler and expiry) on the [`crate::scheduler`], and [`publish`]:
//! the records we publish, the primary's with the zone's NS settings applied.

pub mod catalog;
mod consumer;
pub mod downstreams;
pub mod engine;
pub mod name;
pub mod notify_out;
pub mod publish;
mod refresh;
mod serve;
pub mod stats;
pub mod timers;

pub use engine::{key_named, Engine, Keys, Notified};
