//! Zones: names now; the per-zone state machine, timers and events land with
//! the transfer and scheduler work.

pub mod name;
