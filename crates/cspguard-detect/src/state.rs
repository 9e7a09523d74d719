//! The state detectors keep per customer tenant. Every collection is bounded (see each `MAX_*`), so memory per tracked
//! customer stays flat however long the history; the whole state is serde, so the engine checkpoints it and a scan
//! resumes where the last one stopped.

use crate::detectors::{control_plane, identity, microsoft, payment, usage};
use crate::signal::Signal;
use crate::DetectConfig;
use chrono::{Duration, NaiveDate};
use cspguard_domain::{Currency, Instant, Money};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Regions, meters and the like a tenant is known to use; beyond this many the set stops learning.
pub const MAX_KNOWN: usize = 128;

/// What the detectors know of one customer tenant.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TenantState {
    pub profile: Profile,
    /// Regions the tenant uses (from usage and control-plane operations), lower-cased Azure names (`eastus`).
    pub regions: BTreeSet<String>,
    pub identity: identity::State,
    pub control: control_plane::State,
    pub usage: usage::State,
    pub payment: payment::State,
    pub microsoft: microsoft::State,
}

/// The customer's profile as far as sources told.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Profile {
    pub name: Option<String>,
    pub country: Option<String>,
    pub created_at: Option<Instant>,
    pub mfa_enforced: Option<bool>,
    pub credit_limit: Option<Money>,
    /// The currency usage is billed in (from the first usage line).
    pub currency: Option<Currency>,
}

impl TenantState {
    /// A customer that signed up less than `new_customer_days` before `now`.
    pub fn is_new_customer(&self, now: Instant, cfg: &DetectConfig) -> bool {
        self.profile
            .created_at
            .is_some_and(|c| now - c < Duration::days(cfg.new_customer_days))
    }
    pub fn currency(&self) -> Currency {
        self.profile.currency.unwrap_or(Currency::USD)
    }
    pub fn money(&self, amount: Decimal) -> Money {
        Money::new(amount.round_dp(2), self.currency())
    }
    pub fn learn_region(&mut self, region: &str) -> bool {
        insert_bounded(&mut self.regions, region)
    }
}

/// Inserts into a bounded set; `true` when the value was new (whether or not there was room to remember it).
pub fn insert_bounded(set: &mut BTreeSet<String>, v: &str) -> bool {
    if set.contains(v) {
        return false;
    }
    if set.len() < MAX_KNOWN {
        set.insert(v.to_string());
    }
    true
}

/// What one event's evaluation produced: signals, and wake-ups a detector asked for (an invoice to check once it is
/// overdue, say). The engine fires a wake-up when event time passes it.
#[derive(Debug, Default)]
pub struct Output {
    pub signals: Vec<Signal>,
    pub wake_at: Vec<Instant>,
}

/// The end of a calendar day, as an instant (the next midnight UTC).
pub fn end_of_day(d: NaiveDate) -> Instant {
    (d + Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or_default()
}
