//! Microsoft's own signals: every Azure fraud event (any `eventType`, known or new) and every subscription suspension
//! or enforcement becomes an alert of its own, with a severity mapped from Microsoft's, linked to cspguard's alerts on
//! the same customer (the risk engine records which came first and by how long).

use crate::signal::{Family, Signal};
use crate::state::{Output, TenantState};
use cspguard_domain::{FraudAlert, Instant, SubscriptionState, TenantId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const MAX_TRACKED: usize = 64;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    /// Last status seen per fraud event and per billing subscription.
    pub fraud_status: BTreeMap<String, String>,
    pub subscription_status: BTreeMap<String, String>,
}

fn remember(map: &mut BTreeMap<String, String>, k: &str, v: &str) -> bool {
    if map.get(k).is_some_and(|old| old == v) {
        return false;
    }
    if !map.contains_key(k) && map.len() >= MAX_TRACKED {
        if let Some(first) = map.keys().next().cloned() {
            map.remove(&first);
        }
    }
    map.insert(k.to_string(), v.to_string());
    true
}

/// Points for Microsoft's severity: what the alert's score and severity start from.
fn severity_points(sev: Option<&str>) -> u32 {
    match sev.map(str::to_ascii_lowercase).as_deref() {
        Some("high") | Some("critical") => 85,
        Some("low") => 50,
        _ => 70,
    }
}

pub fn on_fraud_alert(
    st: &mut TenantState,
    tenant: &TenantId,
    a: &FraudAlert,
    at: Instant,
    out: &mut Output,
) {
    let status = format!(
        "{}|{}",
        a.status,
        a.resolved_reason.as_deref().unwrap_or("")
    );
    if !remember(&mut st.microsoft.fraud_status, a.id.as_str(), &status) {
        return;
    }
    let kind = a.event_type.as_deref().unwrap_or("AzureFraudEvent");
    let mut s = Signal::new(
        tenant,
        "microsoft.fraud_alert",
        Family::Microsoft,
        at,
        severity_points(a.severity.as_deref()),
        format!(
            "Microsoft fraud alert {kind}{}: {} (status {}{})",
            a.resource_name
                .as_deref()
                .map(|r| format!(" on {r}"))
                .unwrap_or_default(),
            a.display_name
                .as_deref()
                .or(a.description.as_deref())
                .unwrap_or("no description"),
            a.status,
            a.resolved_reason
                .as_deref()
                .map(|r| format!(", {r}"))
                .unwrap_or_default()
        ),
    )
    .since(a.first_occurrence.or(a.first_observed).unwrap_or(at))
    .subscription(Some(a.azure_subscription.as_str()))
    .feature("fraud_event_id", a.id.as_str().to_string())
    .feature("event_type", kind.to_string())
    .feature("microsoft_severity", a.severity.clone().unwrap_or_default())
    .feature("status", a.status.clone())
    .feature(
        "resolved_reason",
        a.resolved_reason.clone().unwrap_or_default(),
    )
    .feature("hit_count", a.hit_count.unwrap_or(0));
    for r in &a.affected_resources {
        s.resources.insert(r.as_str().to_string());
    }
    s.own_alert = Some(format!("fraud:{}", a.id.as_str()));
    out.signals.push(s);
}

pub fn on_subscription_state(
    st: &mut TenantState,
    tenant: &TenantId,
    s: &SubscriptionState,
    at: Instant,
    out: &mut Output,
) {
    let sub = s.subscription.as_str();
    let first = !st.microsoft.subscription_status.contains_key(sub);
    if !remember(&mut st.microsoft.subscription_status, sub, &s.status) {
        return;
    }
    let enforcement = matches!(s.status.as_str(), "suspended" | "disabled")
        || !s.suspension_reasons.is_empty() && s.status != "active";
    if !enforcement || (first && s.status == "active") {
        return;
    }
    let reasons = if s.suspension_reasons.is_empty() {
        "no reason given".to_string()
    } else {
        s.suspension_reasons.join(", ")
    };
    let fraud = s.suspension_reasons.iter().any(|r| {
        r.to_ascii_lowercase().contains("fraud")
            || r.to_ascii_lowercase().contains("abuse")
            || r.to_ascii_lowercase().contains("acceptable")
    });
    let mut sig = Signal::new(
        tenant,
        "microsoft.subscription_enforcement",
        Family::Microsoft,
        at,
        if fraud { 85 } else { 60 },
        format!(
            "Subscription {} ({}) is {}: {reasons}",
            s.friendly_name.as_deref().unwrap_or(sub),
            s.offer_name.as_deref().unwrap_or("offer unknown"),
            s.status
        ),
    )
    .feature("billing_subscription", sub.to_string())
    .feature("status", s.status.clone())
    .feature("suspension_reasons", s.suspension_reasons.clone());
    sig.own_alert = Some(format!("subscription:{sub}:{}", s.status));
    out.signals.push(sig);
}
