//! Signals: what a detector observed about one customer, with its weight and evidence. A signal alone is not an alert:
//! the risk engine ([`crate::risk`]) weighs the signals of one incident together and raises (or merges into) an alert.

use cspguard_domain::{Instant, Money, TenantId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Which part of the customer's life a signal is about. The risk engine classifies an incident by the families it
/// has seen (identity followed by control plane or usage is an account compromise, for example).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    Identity,
    ControlPlane,
    Usage,
    Payment,
    Onboarding,
    Microsoft,
}

impl Family {
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Identity => "identity",
            Family::ControlPlane => "control_plane",
            Family::Usage => "usage",
            Family::Payment => "payment",
            Family::Onboarding => "onboarding",
            Family::Microsoft => "microsoft",
        }
    }
}

/// One observation, produced by a detector from one event (and the state it had built).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    pub tenant: TenantId,
    /// The detector's stable name, `family.what`, e.g. `identity.failed_burst_then_success`. Rules and suppressions
    /// refer to it.
    pub detector: String,
    pub family: Family,
    /// Event time of the event that produced the signal.
    pub at: Instant,
    /// Event time of the earliest event the signal rests on (the first failed sign-in of a burst, say).
    pub first_evidence_at: Instant,
    /// Weight, 0-100: how strongly this alone points at a loss. The engine combines weights of one incident.
    pub points: u32,
    /// One sentence a person understands: what was seen, against what was normal.
    pub summary: String,
    /// The numbers behind the summary (features, baseline, observed), for the alert's explanation and for rules.
    pub features: serde_json::Map<String, serde_json::Value>,
    pub azure_subscriptions: BTreeSet<String>,
    pub resources: BTreeSet<String>,
    /// Spend already observed that this signal calls anomalous.
    pub observed: Option<Money>,
    /// Spend per day the anomaly runs at, for the projection to the next action point.
    pub burn_per_day: Option<Money>,
    /// For Microsoft's own alerts and enforcement, which always become an alert of their own: the key that names it
    /// (the fraud event ID, or the subscription and its new state), so later deliveries update the same alert.
    pub own_alert: Option<String>,
}

impl Signal {
    pub fn new(
        tenant: &TenantId,
        detector: &str,
        family: Family,
        at: Instant,
        points: u32,
        summary: String,
    ) -> Signal {
        Signal {
            tenant: tenant.clone(),
            detector: detector.to_string(),
            family,
            at,
            first_evidence_at: at,
            points: points.min(100),
            summary,
            features: serde_json::Map::new(),
            azure_subscriptions: BTreeSet::new(),
            resources: BTreeSet::new(),
            observed: None,
            burn_per_day: None,
            own_alert: None,
        }
    }
    pub fn since(mut self, first: Instant) -> Signal {
        self.first_evidence_at = first.min(self.at);
        self
    }
    pub fn feature(mut self, name: &str, value: impl Into<serde_json::Value>) -> Signal {
        self.features.insert(name.to_string(), value.into());
        self
    }
    pub fn subscription(mut self, sub: Option<&str>) -> Signal {
        if let Some(s) = sub {
            self.azure_subscriptions.insert(s.to_string());
        }
        self
    }
    pub fn resource(mut self, r: Option<&str>) -> Signal {
        if let Some(r) = r {
            self.resources.insert(r.to_string());
        }
        self
    }
}
