//! `cspguard eval`: scores the stored alerts against a simulated book's `labels.json`.
//!
//! Matching: an alert of cspguard's own (not a mirrored Microsoft alert) matches an incident when it is on the same
//! customer and fired between the incident's start (less a lead: 60 days for nonpayment, whose drift precedes the
//! label, 1 day otherwise) and its end plus one day. An alert that matches no incident is a false alert; one on a benign
//! look-alike's customer inside its window is also counted as a benign hit. Delay is the first matching alert's
//! `fired_at` minus the incident's start (the first malicious event). Spend "at detection" and "at Microsoft's alert" is
//! what the incident's Azure subscriptions had consumed since the start by then, from the daily usage tables.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use cspguard_detect::{Alert, Origin};
use cspguard_domain::{Currency, Money};
use cspguard_store::Store;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Deserialize)]
pub struct Labels {
    pub customers: u64,
    pub days: u64,
    pub incidents: Vec<Label>,
    pub benign: Vec<Label>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Label {
    pub id: String,
    pub kind: String,
    pub customer_tenant_id: String,
    pub azure_subscription_ids: Vec<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

pub fn read_labels(path: &Path) -> anyhow::Result<Labels> {
    use anyhow::Context;
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read {}: pass the labels.json that `cspguard simulate` wrote",
            path.display()
        )
    })?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a simulator labels.json", path.display()))
}

#[derive(Debug, Clone, Serialize)]
pub struct KindRow {
    pub kind: String,
    pub incidents: u64,
    pub detected: u64,
    pub recall: f64,
    pub precision: Option<f64>,
    pub median_delay_hours: Option<f64>,
    pub p90_delay_hours: Option<f64>,
    /// Median spend since the incident's start at cspguard's first alert / at Microsoft's first alert (where Microsoft
    /// alerted at all).
    pub median_spend_at_detection: Option<Money>,
    pub median_spend_at_microsoft: Option<Money>,
    pub microsoft_alerted: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub kinds: Vec<KindRow>,
    pub customer_days: u64,
    pub own_alerts: u64,
    pub false_alerts: u64,
    pub false_alerts_per_1000_customer_days: f64,
    pub benign_total: u64,
    pub benign_alerted: u64,
    pub benign_alerted_ids: Vec<String>,
    pub missed: Vec<String>,
}

/// Which incident kinds an alert kind speaks for, for precision.
fn speaks_for(alert_kind: &str) -> &'static [&'static str] {
    match alert_kind {
        "account_compromise" | "suspicious_sign_in" => &["cryptojacking"],
        "resource_abuse" | "spend_anomaly" => &["aup_enforcement", "cryptojacking"],
        "new_customer_fraud" => &["stolen_card_signup"],
        "card_testing" => &["card_testing"],
        "nonpayment" | "payment_risk" => &["nonpayment"],
        _ => &[],
    }
}

fn lead(kind: &str) -> Duration {
    if kind == "nonpayment" {
        Duration::days(60)
    } else {
        Duration::days(1)
    }
}

/// Whether an alert belongs to a labelled incident (same customer, fired within its window).
pub fn matches(a: &Alert, l: &Label) -> bool {
    a.customer_tenant_id == l.customer_tenant_id
        && a.fired_at >= l.start - lead(&l.kind)
        && a.fired_at <= l.end + Duration::days(1)
}

fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    Some(sorted[i])
}

/// Spend on `subs` from `start`'s day through the last full day known at `t` (usage of a day is known at its end).
async fn spend_until(
    store: &Store,
    subs: &[String],
    start: DateTime<Utc>,
    t: DateTime<Utc>,
) -> anyhow::Result<Money> {
    let from = start.date_naive();
    let last: NaiveDate = t.date_naive() - Duration::days(1);
    let mut total = Decimal::ZERO;
    let mut currency = Currency::USD;
    if last >= from {
        for s in subs {
            for row in store.daily_meter_cost(Some(s), from, last).await? {
                currency = row.cost.currency;
                total += row.cost.amount;
            }
        }
    }
    Ok(Money::new(total.round_dp(2), currency))
}

pub async fn evaluate(
    store: &Store,
    labels: &Labels,
    alerts: &[Alert],
) -> anyhow::Result<Evaluation> {
    let own: Vec<&Alert> = alerts
        .iter()
        .filter(|a| a.origin == Origin::Cspguard)
        .collect();
    let ms: Vec<&Alert> = alerts
        .iter()
        .filter(|a| a.origin == Origin::Microsoft)
        .collect();
    let mut by_kind: BTreeMap<String, Vec<&Label>> = BTreeMap::new();
    for l in &labels.incidents {
        by_kind.entry(l.kind.clone()).or_default().push(l);
    }
    let matched_any = |a: &Alert| labels.incidents.iter().any(|l| matches(a, l));
    let false_alerts: Vec<&&Alert> = own.iter().filter(|a| !matched_any(a)).collect();
    let mut kinds = Vec::new();
    let mut missed = Vec::new();
    for (kind, incs) in &by_kind {
        let mut delays = Vec::new();
        let mut at_detection = Vec::new();
        let mut at_ms = Vec::new();
        let mut detected = 0;
        let mut ms_alerted = 0;
        let mut true_alerts = 0u64;
        for l in incs {
            let mine: Vec<&&Alert> = own.iter().filter(|a| matches(a, l)).collect();
            true_alerts += mine.len() as u64;
            let first = mine.iter().map(|a| a.fired_at).min();
            match first {
                Some(t) => {
                    detected += 1;
                    delays.push((t - l.start).num_seconds() as f64 / 3600.0);
                    at_detection.push(
                        spend_until(store, &l.azure_subscription_ids, l.start, t.max(l.start))
                            .await?,
                    );
                }
                None => missed.push(format!("{} ({}, {})", l.id, l.kind, l.customer_tenant_id)),
            }
            let ms_first = ms
                .iter()
                .filter(|a| {
                    a.customer_tenant_id == l.customer_tenant_id
                        && a.fired_at >= l.start
                        && a.fired_at <= l.end + Duration::days(7)
                })
                .map(|a| a.fired_at)
                .min();
            if let Some(t) = ms_first {
                ms_alerted += 1;
                at_ms.push(spend_until(store, &l.azure_subscription_ids, l.start, t).await?);
            }
        }
        delays.sort_by(f64::total_cmp);
        let wrong = false_alerts
            .iter()
            .filter(|a| speaks_for(&a.kind).contains(&kind.as_str()))
            .count() as u64;
        let median_money = |v: &mut Vec<Money>| {
            v.sort_by_key(|a| a.amount);
            v.get(v.len().saturating_sub(1) / 2).copied()
        };
        kinds.push(KindRow {
            kind: kind.clone(),
            incidents: incs.len() as u64,
            detected,
            recall: detected as f64 / incs.len().max(1) as f64,
            precision: (true_alerts + wrong > 0)
                .then(|| true_alerts as f64 / (true_alerts + wrong) as f64),
            median_delay_hours: quantile(&delays, 0.5),
            p90_delay_hours: quantile(&delays, 0.9),
            median_spend_at_detection: median_money(&mut at_detection),
            median_spend_at_microsoft: median_money(&mut at_ms),
            microsoft_alerted: ms_alerted,
        });
    }
    let benign_alerted: Vec<String> = labels
        .benign
        .iter()
        .filter(|b| {
            own.iter().any(|a| {
                a.customer_tenant_id == b.customer_tenant_id
                    && a.fired_at >= b.start - Duration::days(1)
                    && a.fired_at <= b.end + Duration::days(1)
            })
        })
        .map(|b| format!("{} ({})", b.id, b.kind))
        .collect();
    let customer_days = labels.customers * labels.days;
    Ok(Evaluation {
        kinds,
        customer_days,
        own_alerts: own.len() as u64,
        false_alerts: false_alerts.len() as u64,
        false_alerts_per_1000_customer_days: false_alerts.len() as f64 * 1000.0
            / customer_days.max(1) as f64,
        benign_total: labels.benign.len() as u64,
        benign_alerted: benign_alerted.len() as u64,
        benign_alerted_ids: benign_alerted,
        missed,
    })
}

pub fn render(e: &Evaluation) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<20} {:>9} {:>8} {:>9} {:>10} {:>9} {:>16} {:>16}",
        "incident kind",
        "detected",
        "recall",
        "precision",
        "median h",
        "p90 h",
        "spend@cspguard",
        "spend@Microsoft"
    );
    let opt = |v: Option<f64>, p: usize| v.map_or("-".to_string(), |x| format!("{x:.p$}"));
    let money = |m: &Option<Money>| m.map_or("-".to_string(), |m| m.to_string());
    for k in &e.kinds {
        let _ = writeln!(
            s,
            "{:<20} {:>9} {:>7.0}% {:>9} {:>10} {:>9} {:>16} {:>16}",
            k.kind,
            format!("{}/{}", k.detected, k.incidents),
            k.recall * 100.0,
            k.precision
                .map_or("-".to_string(), |p| format!("{:.0}%", p * 100.0)),
            opt(k.median_delay_hours, 1),
            opt(k.p90_delay_hours, 1),
            money(&k.median_spend_at_detection),
            if k.microsoft_alerted > 0 {
                format!(
                    "{} ({}x)",
                    money(&k.median_spend_at_microsoft),
                    k.microsoft_alerted
                )
            } else {
                "never alerted".to_string()
            }
        );
    }
    let _ = writeln!(
        s,
        "false alerts: {} of {} own alerts = {:.2} per 1,000 customer-days ({} customer-days); benign look-alikes alerted: {} of {}{}",
        e.false_alerts,
        e.own_alerts,
        e.false_alerts_per_1000_customer_days,
        e.customer_days,
        e.benign_alerted,
        e.benign_total,
        if e.benign_alerted_ids.is_empty() { String::new() } else { format!(" ({})", e.benign_alerted_ids.join(", ")) }
    );
    if !e.missed.is_empty() {
        let _ = writeln!(s, "missed: {}", e.missed.join(", "));
    }
    s
}
