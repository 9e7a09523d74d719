//! The risk engine: signals of one customer -> incidents -> alerts, scores and money at risk.
//!
//! Signals of one customer that follow each other within the incident window (72 h; 45 days for payment signals)
//! belong to one incident. The incident's score combines the strongest signal of each detector as independent evidence
//! (noisy-OR: `100 * (1 - prod(1 - p/100))`), plus a correlation bonus when an identity signal is followed by
//! control-plane or usage anomalies. At `alert_threshold` the incident raises one alert; later signals update that same
//! alert (score, severity, kind, money) instead of raising another. Microsoft's signals always raise an alert of their
//! own, linked to the customer's incident alert, with who saw it first and by how long.
//!
//! The customer risk score (0-100) is the same combination over all signals, each decaying with a 7-day half-life.

use crate::alert::{Alert, Evidence, Explanation, Origin, Severity};
use crate::signal::{Family, Signal};
use crate::state::TenantState;
use crate::DetectConfig;
use chrono::Duration;
use cspguard_domain::{Instant, Money, TenantId};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Evidence kept per incident (the strongest signal per detector).
const MAX_EVIDENCE: usize = 32;
/// Points added when identity evidence is followed by control-plane or usage evidence.
const CORRELATION_BONUS: u32 = 15;
/// Half-life of the customer risk score.
const RISK_HALF_LIFE_DAYS: f64 = 7.0;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RiskState {
    pub incident: Option<Incident>,
    /// Microsoft alerts of this customer by their key, so later deliveries update them.
    pub microsoft: BTreeMap<String, Alert>,
    /// Decaying risk: value as of `risk_at`.
    pub risk: f64,
    pub risk_at: Option<Instant>,
    /// The drivers of the risk score (detector -> points, latest).
    pub risk_drivers: BTreeMap<String, u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Incident {
    pub first_at: Instant,
    pub last_at: Instant,
    pub evidence: BTreeMap<String, Signal>,
    pub alert: Option<Alert>,
    pub new_customer: bool,
}

/// A customer's current risk, for `cspguard customer`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerRisk {
    pub score: u32,
    pub as_of: Option<Instant>,
    pub drivers: BTreeMap<String, u32>,
    pub open_incident_alert: Option<String>,
}

fn noisy_or<'a>(points: impl Iterator<Item = &'a u32>) -> f64 {
    1.0 - points.fold(1.0, |acc, &p| acc * (1.0 - f64::from(p.min(100)) / 100.0))
}

impl RiskState {
    pub fn customer_risk(&self, at: Instant) -> CustomerRisk {
        CustomerRisk {
            score: (self.decayed(at) * 100.0).round() as u32,
            as_of: Some(at),
            drivers: self.risk_drivers.clone(),
            open_incident_alert: self
                .incident
                .as_ref()
                .and_then(|i| i.alert.as_ref().map(|a| a.id.clone())),
        }
    }

    /// The detectors in the open incident and its score, for rules.
    pub fn open_incident(&self) -> (Vec<String>, u32) {
        match &self.incident {
            Some(i) => (i.evidence.keys().cloned().collect(), incident_score(i)),
            None => (Vec::new(), 0),
        }
    }

    fn decayed(&self, at: Instant) -> f64 {
        match self.risk_at {
            Some(t) if at > t => {
                let days = (at - t).num_seconds() as f64 / 86_400.0;
                self.risk * 0.5f64.powf(days / RISK_HALF_LIFE_DAYS)
            }
            _ => self.risk,
        }
    }

    /// Takes one signal; returns the alerts it created or changed.
    pub fn on_signal(
        &mut self,
        sig: Signal,
        tenant: &TenantId,
        st: &TenantState,
        cfg: &DetectConfig,
        now: Instant,
        changed: &mut Vec<Alert>,
    ) {
        let p = f64::from(sig.points) / 100.0;
        let r = self.decayed(sig.at);
        self.risk = 1.0 - (1.0 - r) * (1.0 - p);
        self.risk_at = Some(self.risk_at.map_or(sig.at, |t| t.max(sig.at)));
        if self.risk_drivers.len() < MAX_EVIDENCE || self.risk_drivers.contains_key(&sig.detector) {
            self.risk_drivers.insert(sig.detector.clone(), sig.points);
        }

        if let Some(key) = sig.own_alert.clone() {
            self.microsoft_alert(key, sig, tenant, st, now, changed);
            return;
        }

        // Payment evidence unfolds over weeks and joins a payment incident over the long window; anything else joins
        // only what happened within the short one.
        let payment_incident = self
            .incident
            .as_ref()
            .is_some_and(|i| i.evidence.values().any(|s| s.family == Family::Payment));
        let window = if sig.family == Family::Payment && payment_incident {
            Duration::days(cfg.payment_incident_window_days)
        } else {
            Duration::hours(cfg.incident_window_hours)
        };
        let joins = self
            .incident
            .as_ref()
            .is_some_and(|i| sig.at - i.last_at <= window && sig.at >= i.first_at - window);
        if !joins {
            self.incident = Some(Incident {
                first_at: sig.first_evidence_at,
                last_at: sig.at,
                evidence: BTreeMap::new(),
                alert: None,
                new_customer: st.is_new_customer(sig.at, cfg),
            });
        }
        let Some(inc) = self.incident.as_mut() else {
            return;
        };
        inc.last_at = inc.last_at.max(sig.at);
        inc.first_at = inc.first_at.min(sig.first_evidence_at);
        let fired_at = sig.at;
        match inc.evidence.get(&sig.detector) {
            Some(old) if old.points >= sig.points => {
                // Keep the strongest, but learn new subscriptions, resources and spend.
                let old = inc.evidence.get_mut(&sig.detector).expect("present");
                old.azure_subscriptions.extend(sig.azure_subscriptions);
                old.resources.extend(sig.resources);
                if sig.observed.map(|m| m.amount) > old.observed.map(|m| m.amount) {
                    old.observed = sig.observed;
                    old.burn_per_day = sig.burn_per_day;
                }
            }
            _ => {
                if inc.evidence.len() < MAX_EVIDENCE || inc.evidence.contains_key(&sig.detector) {
                    let mut sig = sig;
                    if let Some(old) = inc.evidence.get(&sig.detector) {
                        sig.azure_subscriptions
                            .extend(old.azure_subscriptions.iter().cloned());
                        sig.resources.extend(old.resources.iter().cloned());
                        sig.first_evidence_at = sig.first_evidence_at.min(old.first_evidence_at);
                    }
                    inc.evidence.insert(sig.detector.clone(), sig);
                }
            }
        }
        let score = incident_score(inc);
        if inc.alert.is_none() && score < cfg.alert_threshold {
            return;
        }
        let alert = build_alert(tenant, inc, score, st, cfg, fired_at, now, &self.microsoft);
        if inc.alert.as_ref() != Some(&alert) {
            inc.alert = Some(alert.clone());
            changed.push(alert);
        }
    }

    fn microsoft_alert(
        &mut self,
        key: String,
        sig: Signal,
        tenant: &TenantId,
        st: &TenantState,
        now: Instant,
        changed: &mut Vec<Alert>,
    ) {
        let ours = self.incident.as_mut().and_then(|i| i.alert.as_mut());
        let id = format!(
            "ms-{}",
            &blake3::hash(format!("{}|{key}", tenant.as_str()).as_bytes()).to_hex()[..16]
        );
        let mut related = Vec::new();
        let lead;
        if let Some(ours) = ours {
            related.push(ours.id.clone());
            let hours = (sig.at - ours.fired_at).num_minutes() as f64 / 60.0;
            lead = if hours > 0.0 {
                format!(
                    " cspguard's alert {} fired {hours:.1} h earlier, at {}.",
                    ours.id,
                    ours.fired_at.format("%Y-%m-%d %H:%M UTC")
                )
            } else {
                format!(" cspguard's alert {} fired {:.1} h later.", ours.id, -hours)
            };
            if !ours.related_alert_ids.contains(&id) {
                ours.related_alert_ids.push(id.clone());
                changed.push(ours.clone());
            }
        } else {
            lead = " cspguard had no alert on this customer before it.".to_string();
        }
        let existing = self.microsoft.get(&key);
        let kind = if key.starts_with("fraud:") {
            "microsoft_fraud_alert"
        } else {
            "microsoft_enforcement"
        };
        let score = sig.points;
        let money = st.money(Decimal::ZERO);
        let alert = Alert {
            id: id.clone(),
            customer_tenant_id: tenant.as_str().to_string(),
            customer_name: st.profile.name.clone(),
            azure_subscription_ids: sig.azure_subscriptions.iter().cloned().collect(),
            resource_ids: sig.resources.iter().cloned().collect(),
            kind: kind.to_string(),
            severity: Severity::from_score(score),
            score,
            money_at_risk: money,
            origin: Origin::Microsoft,
            first_evidence_at: existing.map_or(sig.first_evidence_at, |e| e.first_evidence_at),
            fired_at: existing.map_or(sig.at, |e| e.fired_at),
            detected_at: existing.map_or(now, |e| e.detected_at),
            updated_at: sig.at,
            explanation: Explanation {
                summary: format!("{}.{lead}", sig.summary),
                rule: "Every Microsoft fraud event and every suspension or enforcement becomes an alert, with Microsoft's severity mapped (High 85, Medium 70, Low 50).".to_string(),
                money: "Microsoft's alert carries no amount; see the related cspguard alert for spend.".to_string(),
                signals: vec![evidence(&sig)],
            },
            related_alert_ids: {
                let mut r = existing.map(|e| e.related_alert_ids.clone()).unwrap_or_default();
                for x in related {
                    if !r.contains(&x) {
                        r.push(x);
                    }
                }
                r
            },
        };
        if self.microsoft.len() >= MAX_EVIDENCE && !self.microsoft.contains_key(&key) {
            if let Some(oldest) = self
                .microsoft
                .iter()
                .min_by_key(|(_, a)| a.updated_at)
                .map(|(k, _)| k.clone())
            {
                self.microsoft.remove(&oldest);
            }
        }
        self.microsoft.insert(key, alert.clone());
        changed.push(alert);
    }
}

fn evidence(s: &Signal) -> Evidence {
    Evidence {
        detector: s.detector.clone(),
        at: s.at,
        points: s.points,
        summary: s.summary.clone(),
        features: s.features.clone(),
    }
}

fn families(inc: &Incident) -> BTreeSet<Family> {
    inc.evidence.values().map(|s| s.family).collect()
}

/// Identity evidence strong enough to call the account compromised when resource anomalies follow: together at least
/// this much (a new country alone, or a legacy protocol alone, is not).
const STRONG_IDENTITY: f64 = 0.4;

fn identity_strength(inc: &Incident) -> f64 {
    noisy_or(
        inc.evidence
            .values()
            .filter(|s| s.family == Family::Identity)
            .map(|s| &s.points),
    )
}

/// Identity evidence strong enough, followed by control-plane or usage anomalies.
fn correlated(inc: &Incident) -> bool {
    let f = families(inc);
    identity_strength(inc) >= STRONG_IDENTITY
        && (f.contains(&Family::ControlPlane) || f.contains(&Family::Usage))
}

/// Detectors that measure the same thing count once (their strongest), not as independent evidence: the spike
/// detector and the anomaly core both look at the day's spend level.
fn evidence_group(detector: &str) -> &str {
    match detector {
        "usage.spend_spike" | "usage.series_anomaly" => "usage.spend_level",
        d => d,
    }
}

fn incident_score(inc: &Incident) -> u32 {
    let mut groups: BTreeMap<&str, u32> = BTreeMap::new();
    for s in inc.evidence.values() {
        let g = groups.entry(evidence_group(&s.detector)).or_default();
        *g = (*g).max(s.points);
    }
    let mut points: Vec<u32> = groups.into_values().collect();
    if correlated(inc) {
        points.push(CORRELATION_BONUS);
    }
    (noisy_or(points.iter()) * 100.0).round() as u32
}

/// What kind of incident the evidence describes, most specific first.
fn classify(inc: &Incident) -> &'static str {
    let f = families(inc);
    let has = |d: &str| inc.evidence.contains_key(d);
    let abuse = f.contains(&Family::ControlPlane)
        || has("usage.new_expensive_meter")
        || has("usage.multi_region")
        || has("usage.new_region");
    if has("payment.card_testing") {
        "card_testing"
    } else if correlated(inc) {
        "account_compromise"
    } else if inc.new_customer && (abuse || f.contains(&Family::Usage)) {
        "new_customer_fraud"
    } else if abuse {
        "resource_abuse"
    } else if has("payment.overdue") {
        "nonpayment"
    } else if f.contains(&Family::Usage) {
        "spend_anomaly"
    } else if f.contains(&Family::Identity) {
        "suspicious_sign_in"
    } else {
        "payment_risk"
    }
}

#[allow(clippy::too_many_arguments)]
fn build_alert(
    tenant: &TenantId,
    inc: &Incident,
    score: u32,
    st: &TenantState,
    cfg: &DetectConfig,
    fired_at: Instant,
    now: Instant,
    microsoft: &BTreeMap<String, Alert>,
) -> Alert {
    let mut ev: Vec<&Signal> = inc.evidence.values().collect();
    ev.sort_by_key(|s| (s.at, s.detector.clone()));
    let first = ev.first().map_or(inc.first_at, |s| s.first_evidence_at);
    let first_evidence_at = ev
        .iter()
        .map(|s| s.first_evidence_at)
        .min()
        .unwrap_or(first);
    let prev = inc.alert.as_ref();
    let id = prev.map(|a| a.id.clone()).unwrap_or_else(|| {
        let head = ev.first().map(|s| s.detector.as_str()).unwrap_or("");
        format!(
            "al-{}",
            &blake3::hash(
                format!(
                    "{}|{head}|{}",
                    tenant.as_str(),
                    first_evidence_at.timestamp_micros()
                )
                .as_bytes()
            )
            .to_hex()[..16]
        )
    });
    let currency = st.currency();
    // Observed: the largest usage finding (they overlap: a spike and a new meter often describe the same spend) plus
    // open receivables; burn: the fastest anomalous run rate in the customer's currency.
    let max_of = |fam: &[Family], f: fn(&Signal) -> Option<Money>| {
        ev.iter()
            .filter(|s| fam.contains(&s.family))
            .filter_map(|s| f(s))
            .filter(|m| m.currency == currency)
            .map(|m| m.amount)
            .max()
            .unwrap_or_default()
    };
    let observed_usage = max_of(&[Family::Usage], |s| s.observed);
    let observed_payment = max_of(&[Family::Payment], |s| s.observed);
    let burn = max_of(&[Family::Usage, Family::ControlPlane], |s| s.burn_per_day);
    let horizon = Decimal::from(cfg.action_horizon_hours) / Decimal::from(24);
    let projected = burn * horizon;
    let at_risk = Money::new(
        (observed_usage + observed_payment + projected).round_dp(2),
        currency,
    );
    let kind = classify(inc);
    let fams: Vec<&str> = families(inc).iter().map(|f| f.as_str()).collect();
    let summary = ev
        .iter()
        .map(|s| format!("{}: {}", s.at.format("%Y-%m-%d %H:%M"), s.summary))
        .collect::<Vec<_>>()
        .join("; ");
    let mut subs = BTreeSet::new();
    let mut res = BTreeSet::new();
    for s in &ev {
        subs.extend(s.azure_subscriptions.iter().cloned());
        res.extend(s.resources.iter().cloned());
    }
    let mut related: Vec<String> = prev
        .map(|a| a.related_alert_ids.clone())
        .unwrap_or_default();
    for m in microsoft.values() {
        if m.updated_at >= inc.first_at && !related.contains(&m.id) {
            related.push(m.id.clone());
        }
    }
    Alert {
        id,
        customer_tenant_id: tenant.as_str().to_string(),
        customer_name: st.profile.name.clone(),
        azure_subscription_ids: subs.into_iter().collect(),
        resource_ids: res.into_iter().collect(),
        kind: kind.to_string(),
        severity: Severity::from_score(score),
        score,
        money_at_risk: at_risk,
        origin: Origin::Cspguard,
        first_evidence_at,
        fired_at: prev.map_or(fired_at, |a| a.fired_at),
        detected_at: prev.map_or(now, |a| a.detected_at),
        updated_at: inc.last_at,
        explanation: Explanation {
            summary,
            rule: format!(
                "Incident score {score} >= alert threshold {}: the strongest signal of each detector (spend spike and \
                 anomaly core counted once) combined as independent evidence (100 x (1 - product of (1 - points/100))){}; \
                 evidence from {}.",
                cfg.alert_threshold,
                if correlated(inc) {
                    format!(", plus {CORRELATION_BONUS} for identity evidence followed by control-plane or usage anomalies")
                } else {
                    String::new()
                },
                fams.join(", ")
            ),
            money: format!(
                "{} observed anomalous spend + {} open receivables + {} a day x {} h to the next action point = {}",
                Money::new(observed_usage.round_dp(2), currency),
                Money::new(observed_payment.round_dp(2), currency),
                Money::new(burn.round_dp(2), currency),
                cfg.action_horizon_hours,
                at_risk
            ),
            signals: ev.iter().map(|s| evidence(s)).collect(),
        },
        related_alert_ids: related,
    }
}
