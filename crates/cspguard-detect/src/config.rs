//! The detectors' thresholds. Defaults are what the simulator evaluation (`cspguard eval`) was tuned on; a partner
//! changes them in `cspguard.toml` (`[detect]`), per customer where an override applies.

use crate::rules::AllowList;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectConfig {
    /// Incident score (0-100) at which cspguard raises an alert.
    pub alert_threshold: u32,
    /// Signals of one customer this close together (hours) belong to one incident.
    pub incident_window_hours: i64,
    /// The same for payment signals, which unfold over weeks.
    pub payment_incident_window_days: i64,
    /// Hours from detection to the next point where someone acts (the projection of money at risk).
    pub action_horizon_hours: i64,
    /// Failed sign-ins within `failed_burst_minutes` that make a burst.
    pub failed_burst_count: u32,
    pub failed_burst_minutes: i64,
    /// Travel faster than this between two successful sign-ins is impossible.
    pub impossible_travel_kmh: f64,
    /// Sign-ins of a user before a country of theirs can be called new.
    pub identity_warmup_sign_ins: u32,
    /// Days of usage a subscription needs before a spend spike or a first-seen meter is judged.
    pub usage_warmup_days: u32,
    /// A day at this multiple of the subscription's baseline is a spike ...
    pub spike_ratio: f64,
    /// ... when it is also at least this much above it (billing currency).
    pub spike_min_excess: Decimal,
    /// A first-seen expensive meter or region matters from this much spend a day.
    pub novelty_min_daily_cost: Decimal,
    /// A new customer's spend before its first successful payment that is worth an alert signal, unless its credit
    /// limit is lower.
    pub spend_before_payment_limit: Decimal,
    /// A customer this young (days) is new: onboarding signals weigh more.
    pub new_customer_days: i64,
    /// Payment instruments added within one hour that make card testing.
    pub card_testing_instruments: u32,
    /// Days past due (with no payment submitted by the due date) before an invoice is overdue.
    pub overdue_days: i64,
    /// Days past due at which an overdue invoice becomes serious.
    pub overdue_serious_days: i64,
    /// Known-good regions, countries, IPs and VM sizes (`[detect.allow]`): never called new.
    pub allow: AllowList,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            alert_threshold: 50,
            incident_window_hours: 72,
            payment_incident_window_days: 45,
            action_horizon_hours: 24,
            failed_burst_count: 3,
            failed_burst_minutes: 60,
            impossible_travel_kmh: 900.0,
            identity_warmup_sign_ins: 5,
            usage_warmup_days: 7,
            spike_ratio: 4.0,
            spike_min_excess: Decimal::new(25, 0),
            novelty_min_daily_cost: Decimal::new(10, 0),
            spend_before_payment_limit: Decimal::new(1000, 0),
            new_customer_days: 30,
            card_testing_instruments: 5,
            overdue_days: 10,
            overdue_serious_days: 30,
            allow: AllowList::default(),
        }
    }
}
