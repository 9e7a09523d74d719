//! `cspguard screen TENANT`, and the screening of every new customer that `cspguard scan` runs ([`screen_new`]):
//! the facts of each customer read from the store, scored by `cspguard_exception::screening`, stored (one screening
//! per customer, replaced by a re-screening), and a `new_customer_risk` case opened for a high score.

use crate::cases::{case_row, parse_case, SYSTEM};
use crate::cli::GlobalArgs;
use crate::settings::{self, Settings};
use anyhow::Context;
use chrono::{NaiveDate, Utc};
use clap::Args;
use cspguard_cases::{Case, CaseStatus};
use cspguard_detect::alert::{Evidence, Explanation};
use cspguard_detect::{Alert, Origin, Severity};
use cspguard_domain::{Currency, Event, Instant, Money, PaymentStatus};
use cspguard_exception::{screen, Applicant, InstrumentFact, Screening};
use cspguard_store::{AuditEntry, CaseChanges, CaseFilter, ScreeningRow, Store};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// `cspguard screen`.
#[derive(Debug, Args)]
pub struct ScreenArgs {
    /// The customer's tenant ID. Screens it again now (a customer is screened once by `cspguard scan`).
    pub tenant: String,
    #[arg(long)]
    pub json: bool,
}

/// A stored screening: the outcome and when.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Screened {
    #[serde(flatten)]
    pub screening: Screening,
    pub screened_at: Instant,
    /// The `new_customer_risk` case the screening opened, if it did.
    pub case_id: Option<String>,
}

/// What screening the new customers did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ScreenReport {
    pub screened: u64,
    /// (tenant, score) of the customers at or above the case threshold.
    pub high: Vec<(String, u32)>,
    pub cases_opened: u64,
}

impl ScreenReport {
    pub fn render(&self) -> String {
        if self.screened == 0 {
            return String::new();
        }
        format!(
            "screening: {} new customer(s) screened, {} high risk, {} case(s) opened{}\n",
            self.screened,
            self.high.len(),
            self.cases_opened,
            if self.high.is_empty() {
                String::new()
            } else {
                " (`cspguard screen TENANT` shows why)".to_string()
            }
        )
    }
}

fn t0() -> Instant {
    chrono::DateTime::<Utc>::from_timestamp(0, 0).unwrap_or_default()
}

fn t_end() -> Instant {
    // 2200-01-01: later than any event time.
    chrono::DateTime::<Utc>::from_timestamp(7_258_118_400, 0).unwrap_or_default()
}

/// Every customer the store knows, with the facts screening needs.
pub async fn applicants(store: &Store) -> anyhow::Result<Vec<Applicant>> {
    let lo = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let hi = NaiveDate::from_ymd_opt(2200, 1, 1).unwrap_or_default();
    let mut first_usage: HashMap<String, NaiveDate> = HashMap::new();
    for d in store.daily_meter_cost(None, lo, hi).await? {
        let e = first_usage
            .entry(d.customer_tenant_id.clone())
            .or_insert(d.usage_date);
        *e = (*e).min(d.usage_date);
    }
    let history_from = first_usage.values().min().copied();
    let mut out = Vec::new();
    for c in store.customers().await? {
        let mut a = Applicant {
            tenant: c.tenant_id.clone(),
            name: c.name.clone(),
            country: c.country.clone(),
            domain: c.domain.clone(),
            first_usage: first_usage.get(&c.tenant_id).copied(),
            history_from,
            ..Default::default()
        };
        let mut ip_country: HashMap<String, String> = HashMap::new();
        for e in store
            .customer_events(&c.tenant_id, t0(), t_end(), 100_000)
            .await?
        {
            match e.envelope.event {
                Event::CustomerProfile(p) => {
                    a.name = p.name.or(a.name);
                    a.country = p.country.or(a.country);
                    a.domain = p.domain.or(a.domain);
                    a.created_at = p.created_at.or(a.created_at);
                    a.signup_ip = p.signup_ip.or(a.signup_ip);
                    a.mfa_enforced = p.mfa_enforced.or(a.mfa_enforced);
                }
                Event::InstrumentChange(i)
                    if i.action == cspguard_domain::InstrumentAction::Added =>
                {
                    a.instruments.push(InstrumentFact {
                        id: i.instrument.to_string(),
                        kind: serde_json::to_value(i.kind)?
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                        country: i.country,
                        fingerprint: i.fingerprint,
                        added_at: i.at,
                    });
                }
                Event::Payment(p) if p.status == PaymentStatus::Succeeded => {
                    let d = p.posted_on.unwrap_or(p.submitted_on);
                    a.first_successful_payment =
                        Some(a.first_successful_payment.map_or(d, |x| x.min(d)));
                }
                Event::SignIn(s) => {
                    if let (Some(ip), Some(country)) = (
                        s.ip_address,
                        s.location.and_then(|l| l.country).filter(|c| !c.is_empty()),
                    ) {
                        ip_country.entry(ip).or_insert(country);
                    }
                }
                _ => {}
            }
        }
        a.signup_ip_country = a
            .signup_ip
            .as_ref()
            .and_then(|ip| ip_country.get(ip).cloned());
        out.push(a);
    }
    Ok(out)
}

/// A `new_customer_risk` case for a high screening, unless the customer has one open already. Returns its ID.
async fn open_case(
    store: &Store,
    settings: &Settings,
    a: &Applicant,
    s: &Screening,
    now: Instant,
) -> anyhow::Result<Option<String>> {
    let open: Vec<Case> = store
        .cases(&CaseFilter {
            status: None,
            customer: Some(a.tenant.clone()),
        })
        .await?
        .iter()
        .map(parse_case)
        .collect::<anyhow::Result<_>>()?;
    if open
        .iter()
        .any(|c| c.kind == "new_customer_risk" && c.status != CaseStatus::Resolved)
    {
        return Ok(None);
    }
    let currency = Currency::parse("USD")?;
    let alert = Alert {
        id: format!("screening/{}/{}", a.tenant, now.format("%Y-%m-%dT%H:%M:%S")),
        customer_tenant_id: a.tenant.clone(),
        customer_name: a.name.clone(),
        azure_subscription_ids: vec![],
        resource_ids: vec![],
        kind: "new_customer_risk".into(),
        severity: Severity::from_score(s.score).max(Severity::Medium),
        score: s.score,
        money_at_risk: Money::zero(currency),
        origin: Origin::Cspguard,
        first_evidence_at: a.created_at.unwrap_or(now),
        fired_at: now,
        detected_at: now,
        updated_at: now,
        explanation: Explanation {
            summary: format!(
                "Onboarding screening scored {} / 100: {}.",
                s.score,
                s.reasons
                    .iter()
                    .map(|r| r.summary.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            rule: format!(
                "screening score >= {} ([screening] case_threshold)",
                settings.screening.case_threshold
            ),
            money: "not estimated at onboarding".into(),
            signals: s
                .reasons
                .iter()
                .map(|r| Evidence {
                    detector: format!("screening.{}", r.code),
                    at: now,
                    points: r.points,
                    summary: r.summary.clone(),
                    features: r.evidence.as_object().cloned().unwrap_or_default(),
                })
                .collect(),
        },
        related_alert_ids: vec![],
    };
    let mut case = Case::open(&alert, now, settings.cases.sla());
    // The collections steps (review payments, prepayment, ...) fit a risky sign-up better than compromise steps.
    case.checklist = cspguard_cases::checklist::for_kind("new_customer_fraud");
    store
        .commit_case_changes(&CaseChanges {
            cases: vec![case_row(&case)?],
            audit: vec![AuditEntry::new(
                now,
                SYSTEM,
                "case.opened",
                serde_json::json!({"kind": "new_customer_risk", "screening_score": s.score,
                    "reasons": s.reasons.iter().map(|r| &r.code).collect::<Vec<_>>(),
                    "controls": s.controls.iter().map(|c| &c.code).collect::<Vec<_>>()}),
            )
            .case(&case.id.0)],
            ..Default::default()
        })
        .await?;
    Ok(Some(case.id.0))
}

async fn screen_and_store(
    store: &Store,
    settings: &Settings,
    a: &Applicant,
    all: &[Applicant],
    now: Instant,
) -> anyhow::Result<Screened> {
    let s = screen(a, all, &settings.screening);
    let case_id = if s.score >= settings.screening.case_threshold {
        open_case(store, settings, a, &s, now).await?
    } else {
        None
    };
    let done = Screened {
        screening: s,
        screened_at: now,
        case_id,
    };
    store
        .save_screening(&ScreeningRow {
            customer_tenant_id: a.tenant.clone(),
            score: i64::from(done.screening.score),
            screened_at: now,
            body: serde_json::to_string(&done)?,
        })
        .await?;
    Ok(done)
}

/// Screens every customer not screened yet (what `cspguard scan` runs after the case intake).
pub async fn screen_new(
    store: &Store,
    settings: &Settings,
    now: Instant,
) -> anyhow::Result<ScreenReport> {
    let done: HashSet<String> = store
        .screenings()
        .await?
        .into_iter()
        .map(|s| s.customer_tenant_id)
        .collect();
    let mut r = ScreenReport::default();
    // Gathering the applicants reads every customer's events: only when someone is new (after every scan otherwise,
    // it cost several times the scan itself).
    if store
        .customers()
        .await?
        .iter()
        .all(|c| done.contains(&c.tenant_id))
    {
        return Ok(r);
    }
    let all = applicants(store).await?;
    for a in all.iter().filter(|a| !done.contains(&a.tenant)) {
        let s = screen_and_store(store, settings, a, &all, now).await?;
        r.screened += 1;
        if s.screening.score >= settings.screening.case_threshold {
            r.high.push((a.tenant.clone(), s.screening.score));
        }
        r.cases_opened += u64::from(s.case_id.is_some());
    }
    Ok(r)
}

/// `cspguard screen TENANT`.
pub async fn run(g: &GlobalArgs, args: ScreenArgs) -> anyhow::Result<i32> {
    let tenant = cspguard_domain::TenantId::parse(&args.tenant)
        .map_err(|e| anyhow::anyhow!("{e}: give the customer's tenant ID (a GUID)"))?;
    let settings = settings::load(g)?;
    let store = crate::open_store(g).await?;
    let all = applicants(&store).await?;
    let Some(a) = all.iter().find(|a| a.tenant == tenant.as_str()) else {
        store.close().await;
        eprintln!("error: no customer {tenant} in the store: check the tenant ID, or import its billing records and usage first");
        return Ok(crate::exit::UNUSABLE);
    };
    let done = screen_and_store(&store, &settings, a, &all, Utc::now())
        .await
        .with_context(|| format!("screening {tenant}"))?;
    store.close().await;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&done)?);
    } else {
        crate::out!("{}", render(&done));
    }
    Ok(crate::exit::OK)
}

pub fn render(d: &Screened) -> String {
    use std::fmt::Write;
    let s = &d.screening;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{} ({}): screening score {} / 100 ({})",
        s.customer_name.as_deref().unwrap_or("name unknown"),
        s.customer_tenant_id,
        s.score,
        s.level
    );
    if s.reasons.is_empty() {
        let _ = writeln!(o, "no risk signal at onboarding");
    } else {
        let _ = writeln!(o, "reasons:");
    }
    for r in &s.reasons {
        let _ = writeln!(o, "  +{:<3} {}: {}", r.points, r.code, r.summary);
        let _ = writeln!(o, "       evidence: {}", r.evidence);
    }
    if !s.controls.is_empty() {
        let _ = writeln!(o, "recommended controls:");
        for c in &s.controls {
            let _ = writeln!(o, "  - {}", c.text);
        }
    }
    if let Some(c) = &d.case_id {
        let _ = writeln!(o, "case {c} opened (new_customer_risk)");
    }
    o
}

/// Stored screenings by tenant (for views).
pub async fn stored(store: &Store) -> anyhow::Result<BTreeMap<String, Screened>> {
    let mut out = BTreeMap::new();
    for r in store.screenings().await? {
        let s: Screened = serde_json::from_str(&r.body).with_context(|| {
            format!(
                "the screening of {} is stored unreadable",
                r.customer_tenant_id
            )
        })?;
        out.insert(r.customer_tenant_id, s);
    }
    Ok(out)
}
