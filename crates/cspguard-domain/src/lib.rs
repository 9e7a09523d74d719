//! The domain core of cspguard: identifiers, money, instants and the typed events that flow from the importers through
//! the event log to the detectors.
//!
//! Invariants:
//! - nothing here does IO or knows a wire format of Microsoft's or of a partner's; importers convert explicitly;
//! - money is a [`Money`] (decimal amount + ISO 4217 currency), never a float;
//! - instants are UTC ([`Instant`]), calendar days are [`chrono::NaiveDate`];
//! - every event carries an [`IdempotencyKey`] derived from its content, so a re-delivered fact is recognised.

mod event;
mod ids;
mod money;

pub use event::*;
pub use ids::*;
pub use money::*;

/// A point in time, always UTC.
pub type Instant = chrono::DateTime<chrono::Utc>;
