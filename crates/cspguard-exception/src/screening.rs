//! Onboarding screening: how risky a new customer looks before it has run up a bill, from the partner's own facts
//! (profile, payment instruments, payments, first usage, sign-ins), with the controls to put in place.
//!
//! Signals and their points (the score is their sum, at most 100):
//! - `high_risk_country` (25): the customer's country, a payment instrument's country or the sign-up IP's country (as
//!   the sign-ins from that IP located it) is in `high_risk_countries`;
//! - `prepaid_card` (25): a prepaid or stored-value card was added;
//! - `instrument_country_mismatch` (20): a payment instrument's country differs from the customer's;
//! - `signup_velocity` (25): `velocity_min_customers` or more customers (this one included) signed up from the same
//!   IP, domain or card fingerprint within `velocity_window_days` of each other;
//! - `mfa_not_enforced` (10): the billing record says MFA is not enforced;
//! - `consumption_before_payment` (25): Azure usage started before the first successful payment (only judged when
//!   the sign-up is inside the data cspguard holds, so an old customer is not judged on a partial history).

use chrono::{Duration, NaiveDate};
use cspguard_domain::Instant;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// `[screening]` in cspguard.toml.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScreeningConfig {
    /// ISO 3166 alpha-2 codes. Default: the FATF "high-risk jurisdictions subject to a call for action" (KP, IR, MM),
    /// a public, maintained list; partners add the countries their own fraud history points at.
    pub high_risk_countries: Vec<String>,
    pub velocity_window_days: i64,
    pub velocity_min_customers: usize,
    /// A score at or above this opens a `new_customer_risk` case.
    pub case_threshold: u32,
}

impl Default for ScreeningConfig {
    fn default() -> Self {
        ScreeningConfig {
            high_risk_countries: vec!["KP".into(), "IR".into(), "MM".into()],
            velocity_window_days: 7,
            velocity_min_customers: 3,
            case_threshold: 60,
        }
    }
}

/// A payment instrument as the billing feed told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstrumentFact {
    pub id: String,
    /// `card`, `prepaid_card`, `bank_account`, `wire`.
    pub kind: String,
    pub country: Option<String>,
    pub fingerprint: Option<String>,
    pub added_at: Instant,
}

/// What is known of one customer.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Applicant {
    pub tenant: String,
    pub name: Option<String>,
    pub country: Option<String>,
    pub domain: Option<String>,
    pub created_at: Option<Instant>,
    pub signup_ip: Option<String>,
    /// Where the sign-ins from the sign-up IP were located.
    pub signup_ip_country: Option<String>,
    pub mfa_enforced: Option<bool>,
    pub instruments: Vec<InstrumentFact>,
    pub first_usage: Option<NaiveDate>,
    pub first_successful_payment: Option<NaiveDate>,
    /// The first usage day cspguard holds for any customer: a sign-up before it is judged on a partial history.
    pub history_from: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub code: String,
    pub points: u32,
    pub summary: String,
    pub evidence: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Control {
    pub code: String,
    pub text: String,
}

/// The outcome. Field names are the JSON contract of `cspguard screen --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Screening {
    pub customer_tenant_id: String,
    pub customer_name: Option<String>,
    /// 0-100.
    pub score: u32,
    /// `low` (<30), `medium` (<60 by default), `high` (>= the case threshold).
    pub level: String,
    pub reasons: Vec<Reason>,
    pub controls: Vec<Control>,
}

/// The domain a velocity check groups by: a tenant's own `*.onmicrosoft.com` name is unique to it, so only a custom
/// domain's last two labels group customers.
fn domain_key(d: &str) -> Option<String> {
    let d = d.trim().to_ascii_lowercase();
    if d.is_empty() || d.ends_with(".onmicrosoft.com") {
        return None;
    }
    let labels: Vec<&str> = d.split('.').collect();
    Some(labels[labels.len().saturating_sub(2)..].join("."))
}

fn close(a: Option<Instant>, b: Option<Instant>, window: Duration) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= window,
        _ => false,
    }
}

/// Screens `a` against the other customers `peers` (which may include `a`; it is skipped by tenant).
pub fn screen(a: &Applicant, peers: &[Applicant], cfg: &ScreeningConfig) -> Screening {
    let mut reasons = Vec::new();
    let risky: BTreeSet<String> = cfg
        .high_risk_countries
        .iter()
        .map(|c| c.trim().to_ascii_uppercase())
        .collect();
    let up = |c: &Option<String>| c.as_ref().map(|c| c.trim().to_ascii_uppercase());
    let country = up(&a.country);
    // High-risk country.
    let mut hits = Vec::new();
    if let Some(c) = country.as_ref().filter(|c| risky.contains(*c)) {
        hits.push(serde_json::json!({"what": "customer country", "country": c}));
    }
    if let Some(c) = up(&a.signup_ip_country).filter(|c| risky.contains(c)) {
        hits.push(serde_json::json!({"what": "sign-up IP", "ip": a.signup_ip, "country": c}));
    }
    for i in &a.instruments {
        if let Some(c) = up(&i.country).filter(|c| risky.contains(c)) {
            hits.push(
                serde_json::json!({"what": "payment instrument", "instrument": i.id, "country": c}),
            );
        }
    }
    if !hits.is_empty() {
        reasons.push(Reason {
            code: "high_risk_country".into(),
            points: 25,
            summary: format!(
                "{} tie(s) to a high-risk country ({})",
                hits.len(),
                hits.iter()
                    .filter_map(|h| h["country"].as_str())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            evidence: serde_json::json!({"ties": hits, "high_risk_countries": risky}),
        });
    }
    // Prepaid cards.
    let prepaid: Vec<&InstrumentFact> = a
        .instruments
        .iter()
        .filter(|i| i.kind == "prepaid_card")
        .collect();
    if !prepaid.is_empty() {
        reasons.push(Reason {
            code: "prepaid_card".into(),
            points: 25,
            summary: format!(
                "pays with a prepaid card ({})",
                prepaid
                    .iter()
                    .map(|i| i.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            evidence: serde_json::json!({"instruments": prepaid}),
        });
    }
    // Instrument country differs from the customer's.
    if let Some(c) = &country {
        let odd: Vec<&InstrumentFact> = a
            .instruments
            .iter()
            .filter(|i| up(&i.country).is_some_and(|ic| ic != *c))
            .collect();
        if !odd.is_empty() {
            reasons.push(Reason {
                code: "instrument_country_mismatch".into(),
                points: 20,
                summary: format!(
                    "payment instrument from {} while the customer claims {c}",
                    odd.iter()
                        .filter_map(|i| i.country.clone())
                        .collect::<BTreeSet<_>>()
                        .into_iter()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                evidence: serde_json::json!({"customer_country": c, "instruments": odd}),
            });
        }
    }
    // Sign-up velocity.
    let window = Duration::days(cfg.velocity_window_days);
    let mut linked: Vec<serde_json::Value> = Vec::new();
    let mut groups = Vec::new();
    if let Some(ip) = a.signup_ip.as_deref().filter(|s| !s.is_empty()) {
        let same: Vec<&Applicant> = peers
            .iter()
            .filter(|p| p.tenant != a.tenant && p.signup_ip.as_deref() == Some(ip))
            .filter(|p| close(p.created_at, a.created_at, window))
            .collect();
        if same.len() + 1 >= cfg.velocity_min_customers {
            groups.push(format!("{} customers from IP {ip}", same.len() + 1));
            linked.extend(same.iter().map(|p| serde_json::json!({"by": "signup_ip", "value": ip, "tenant": p.tenant, "created_at": p.created_at})));
        }
    }
    if let Some(k) = a.domain.as_deref().and_then(domain_key) {
        let same: Vec<&Applicant> = peers
            .iter()
            .filter(|p| {
                p.tenant != a.tenant
                    && p.domain.as_deref().and_then(domain_key).as_deref() == Some(k.as_str())
            })
            .filter(|p| close(p.created_at, a.created_at, window))
            .collect();
        if same.len() + 1 >= cfg.velocity_min_customers {
            groups.push(format!("{} customers with domain {k}", same.len() + 1));
            linked.extend(same.iter().map(|p| serde_json::json!({"by": "domain", "value": k, "tenant": p.tenant, "created_at": p.created_at})));
        }
    }
    for i in &a.instruments {
        let Some(fp) = i.fingerprint.as_deref() else {
            continue;
        };
        let same: Vec<&Applicant> = peers
            .iter()
            .filter(|p| p.tenant != a.tenant)
            .filter(|p| {
                p.instruments.iter().any(|pi| {
                    pi.fingerprint.as_deref() == Some(fp)
                        && close(Some(pi.added_at), Some(i.added_at), window)
                })
            })
            .collect();
        if same.len() + 1 >= cfg.velocity_min_customers {
            groups.push(format!("{} customers with card {fp}", same.len() + 1));
            linked.extend(same.iter().map(
                |p| serde_json::json!({"by": "card_fingerprint", "value": fp, "tenant": p.tenant}),
            ));
        }
    }
    if !groups.is_empty() {
        reasons.push(Reason {
            code: "signup_velocity".into(),
            points: 25,
            summary: format!(
                "{} within {} days",
                groups.join("; "),
                cfg.velocity_window_days
            ),
            evidence: serde_json::json!({"linked_customers": linked}),
        });
    }
    // MFA.
    if a.mfa_enforced == Some(false) {
        reasons.push(Reason {
            code: "mfa_not_enforced".into(),
            points: 10,
            summary: "MFA is not enforced for the customer's users".into(),
            evidence: serde_json::json!({"mfa_enforced": false}),
        });
    }
    // Consumption before the first successful payment, judged only when the sign-up falls inside the usage data.
    if let (Some(created), Some(first_use)) = (a.created_at, a.first_usage) {
        let from = a.history_from.unwrap_or(first_use - Duration::days(1));
        if created.date_naive() >= from {
            let before = match a.first_successful_payment {
                None => true,
                Some(p) => first_use < p,
            };
            if before {
                reasons.push(Reason {
                    code: "consumption_before_payment".into(),
                    points: 25,
                    summary: match a.first_successful_payment {
                        Some(p) => format!(
                            "Azure usage from {first_use}, first successful payment only on {p}"
                        ),
                        None => {
                            format!("Azure usage from {first_use} and no successful payment yet")
                        }
                    },
                    evidence: serde_json::json!({"signed_up": created, "first_usage": first_use,
                        "first_successful_payment": a.first_successful_payment}),
                });
            }
        }
    }
    let score = reasons.iter().map(|r| r.points).sum::<u32>().min(100);
    let level = if score >= cfg.case_threshold {
        "high"
    } else if score >= 30 {
        "medium"
    } else {
        "low"
    };
    let mut controls = Vec::new();
    let mut add = |code: &str, text: String| {
        if !controls.iter().any(|c: &Control| c.code == code) {
            controls.push(Control {
                code: code.into(),
                text,
            });
        }
    };
    if score >= 30 {
        add(
            "prepayment",
            "Require prepayment before the first transactions".into(),
        );
        add(
            "low_credit_limit",
            "Set a low credit limit and a monthly Azure spending budget (notice at 80%) until payments are proven".into(),
        );
        add(
            "no_admin_rights",
            "Grant no admin rights (no GDAP admin roles) yet: wait for enforced MFA and the first paid invoice".into(),
        );
    }
    for r in &reasons {
        match r.code.as_str() {
            "prepaid_card" => add("refuse_prepaid", "Refuse prepaid or stored-value cards: ask for a bank account or a card in the company's name".into()),
            "instrument_country_mismatch" | "high_risk_country" => add("verify_identity", "Verify the business and the cardholder (credit-bureau or business-report check, personal contact)".into()),
            "signup_velocity" => add("review_linked", "Review the linked customers together: automated sign-ups share IPs, domains and cards".into()),
            "mfa_not_enforced" => add("enforce_mfa", "Require MFA for the customer's users before any admin rights".into()),
            "consumption_before_payment" => add("hold_provisioning", "Hold new provisioning until the first payment has posted".into()),
            _ => {}
        }
    }
    Screening {
        customer_tenant_id: a.tenant.clone(),
        customer_name: a.name.clone(),
        score,
        level: level.into(),
        reasons,
        controls,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Instant {
        s.parse().unwrap()
    }

    fn card(id: &str, kind: &str, country: &str, fp: &str, at: &str) -> InstrumentFact {
        InstrumentFact {
            id: id.into(),
            kind: kind.into(),
            country: Some(country.into()),
            fingerprint: Some(fp.into()),
            added_at: t(at),
        }
    }

    fn stolen_card() -> Applicant {
        Applicant {
            tenant: "a".into(),
            country: Some("US".into()),
            domain: Some("alpine.onmicrosoft.com".into()),
            created_at: Some(t("2026-08-23T06:08:45Z")),
            signup_ip: Some("89.38.15.147".into()),
            signup_ip_country: Some("RO".into()),
            mfa_enforced: Some(false),
            instruments: vec![card(
                "pm_54",
                "prepaid_card",
                "ID",
                "fp1",
                "2026-08-23T06:12:45Z",
            )],
            first_usage: Some("2026-08-23".parse().unwrap()),
            first_successful_payment: Some("2026-09-02".parse().unwrap()),
            history_from: Some("2026-08-01".parse().unwrap()),
            ..Default::default()
        }
    }

    fn codes(s: &Screening) -> Vec<&str> {
        s.reasons.iter().map(|r| r.code.as_str()).collect()
    }

    #[test]
    fn a_stolen_card_signup_scores_high_with_reasons_and_controls() {
        let s = screen(&stolen_card(), &[], &ScreeningConfig::default());
        assert_eq!(
            codes(&s),
            vec![
                "prepaid_card",
                "instrument_country_mismatch",
                "mfa_not_enforced",
                "consumption_before_payment"
            ]
        );
        assert_eq!(s.score, 80);
        assert_eq!(s.level, "high");
        let c: Vec<&str> = s.controls.iter().map(|c| c.code.as_str()).collect();
        for want in [
            "prepayment",
            "low_credit_limit",
            "no_admin_rights",
            "refuse_prepaid",
        ] {
            assert!(c.contains(&want), "{c:?}");
        }
        assert_eq!(s.reasons[0].evidence["instruments"][0]["id"], "pm_54");
    }

    #[test]
    fn high_risk_countries_are_configurable() {
        let cfg = ScreeningConfig {
            high_risk_countries: vec!["ro".into()],
            ..Default::default()
        };
        let s = screen(&stolen_card(), &[], &cfg);
        assert_eq!(codes(&s)[0], "high_risk_country");
        assert_eq!(s.score, 100, "capped");
    }

    #[test]
    fn an_established_paying_customer_scores_low() {
        let a = Applicant {
            tenant: "b".into(),
            country: Some("DE".into()),
            created_at: Some(t("2023-10-05T00:00:00Z")),
            mfa_enforced: Some(true),
            instruments: vec![card("pm_1", "card", "DE", "fp9", "2023-10-05T00:00:00Z")],
            first_usage: Some("2026-08-01".parse().unwrap()),
            first_successful_payment: Some("2026-08-05".parse().unwrap()),
            ..Default::default()
        };
        let s = screen(&a, &[], &ScreeningConfig::default());
        assert_eq!((s.score, s.level.as_str()), (0, "low"));
        assert!(s.controls.is_empty());
    }

    #[test]
    fn many_signups_from_one_ip_or_card_within_the_window_are_velocity() {
        let mut peers = Vec::new();
        for (i, day) in ["2026-08-20", "2026-08-25", "2026-09-20"]
            .iter()
            .enumerate()
        {
            let mut p = Applicant {
                tenant: format!("p{i}"),
                created_at: Some(t(&format!("{day}T00:00:00Z"))),
                signup_ip: Some("89.38.15.147".into()),
                ..Default::default()
            };
            p.instruments
                .push(card("x", "card", "US", "fp1", &format!("{day}T00:00:00Z")));
            peers.push(p);
        }
        let s = screen(&stolen_card(), &peers, &ScreeningConfig::default());
        let v = s
            .reasons
            .iter()
            .find(|r| r.code == "signup_velocity")
            .unwrap();
        // p0 and p1 are within 7 days, p2 is not.
        assert!(
            v.summary.contains("3 customers from IP 89.38.15.147"),
            "{}",
            v.summary
        );
        assert!(
            v.summary.contains("3 customers with card fp1"),
            "{}",
            v.summary
        );
        let s = screen(&stolen_card(), &peers[..1], &ScreeningConfig::default());
        assert!(!codes(&s).contains(&"signup_velocity"));
    }

    #[test]
    fn custom_domains_group_but_onmicrosoft_names_do_not() {
        assert_eq!(domain_key("mail.evil.example"), Some("evil.example".into()));
        assert_eq!(domain_key("x.onmicrosoft.com"), None);
    }

    #[test]
    fn no_successful_payment_counts_and_old_customers_are_not_judged_on_partial_history() {
        let mut a = stolen_card();
        a.first_successful_payment = None;
        let s = screen(&a, &[], &ScreeningConfig::default());
        assert!(s
            .reasons
            .iter()
            .any(|r| r.summary.contains("no successful payment yet")));
        a.created_at = Some(t("2023-01-01T00:00:00Z"));
        let s = screen(&a, &[], &ScreeningConfig::default());
        assert!(!codes(&s).contains(&"consumption_before_payment"));
    }
}
