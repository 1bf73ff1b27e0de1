//! Zones: names, timer arithmetic, and the engine that runs zone events (the
//! refresh handler and expiry) on the [`crate::scheduler`].

pub mod engine;
pub mod name;
mod refresh;
pub mod timers;

pub use engine::Engine;
