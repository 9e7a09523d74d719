//! cspguard's detection stage: detectors (pure: customer state + event -> signals) and the risk engine (signals ->
//! incidents -> alerts with a score, a severity, money at risk and an explanation).
//!
//! API boundary: feed [`Engine::process`] envelopes in event-time order; it returns the alerts created or changed.
//! [`Engine::checkpoint`]/[`Engine::restore`] carry the whole state between runs. No IO, no storage, no wall clock
//! (the caller passes `now`), so the same engine serves the batch scan, streaming evaluation and backtests.
//!
//! Invariants: state per customer is bounded (every collection has a cap); same events in the same order give the
//! same alerts and IDs; a signal is never an alert by itself unless Microsoft raised it.

pub mod alert;
pub mod catalog;
mod config;
pub mod detectors;
pub mod engine;
pub mod risk;
pub mod rules;
pub mod signal;
pub mod state;

pub use alert::{Alert, Origin, Severity};
pub use config::DetectConfig;
pub use engine::{CheckpointError, Engine, SignalRecord};
pub use rules::{AllowList, RuleAction, RuleError, RuleSet, RuleSpec, Suppression};
pub use signal::{Family, Signal};
