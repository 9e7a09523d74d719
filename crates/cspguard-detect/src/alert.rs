//! Alerts: what cspguard tells a person. One alert per customer incident (signals of one incident merge into it
//! instead of repeating), and one per Microsoft alert or enforcement, linked to each other.

use cspguard_domain::{Instant, Money};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn from_score(score: u32) -> Severity {
        match score {
            85.. => Severity::Critical,
            70.. => Severity::High,
            50.. => Severity::Medium,
            _ => Severity::Low,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// Who raised an alert: cspguard's own detectors, or Microsoft (a fraud event or an enforcement, mirrored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    Cspguard,
    Microsoft,
}

/// An alert as the CLI, the API and the store show it. Field names are the documented JSON contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable: derived from the customer and the incident's first evidence, so a re-scan names it the same.
    pub id: String,
    pub customer_tenant_id: String,
    pub customer_name: Option<String>,
    pub azure_subscription_ids: Vec<String>,
    pub resource_ids: Vec<String>,
    /// `account_compromise`, `resource_abuse`, `new_customer_fraud`, `card_testing`, `nonpayment`, `spend_anomaly`,
    /// `suspicious_sign_in`, `payment_risk`, `microsoft_fraud_alert`, `microsoft_enforcement`.
    pub kind: String,
    pub severity: Severity,
    /// 0-100.
    pub score: u32,
    /// Observed anomalous spend plus the projected burn to the next action point.
    pub money_at_risk: Money,
    pub origin: Origin,
    /// Event time of the earliest contributing event.
    pub first_evidence_at: Instant,
    /// Event time of the event that raised the alert.
    pub fired_at: Instant,
    /// Wall clock when cspguard raised it.
    pub detected_at: Instant,
    /// Event time of the latest contributing event.
    pub updated_at: Instant,
    pub explanation: Explanation,
    pub related_alert_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// One paragraph: what happened, in order, and why it matters.
    pub summary: String,
    /// Why this fired: the rule (threshold and how the evidence combined).
    pub rule: String,
    /// How the money at risk was reached.
    pub money: String,
    /// The evidence, strongest per detector, in time order.
    pub signals: Vec<Evidence>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub detector: String,
    pub at: Instant,
    pub points: u32,
    pub summary: String,
    /// Features: what was observed against what was normal (baseline), as the detector measured them.
    pub features: serde_json::Map<String, serde_json::Value>,
}
