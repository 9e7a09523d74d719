//! The detectors, one module per family of evidence. Each is a pure function of the customer's state and one event
//! (or a wake-up): it updates the state and emits [`crate::Signal`]s, never alerts, IO or wall-clock reads.

pub mod control_plane;
pub mod identity;
pub mod microsoft;
pub mod payment;
pub mod usage;
