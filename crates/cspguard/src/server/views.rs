//! Read models the console shows, computed server-side so the browser does no domain arithmetic:
//! `GET /api/v1/dashboard` (exposure, open cases with SLA clocks, recent alerts, how much earlier than Microsoft
//! cspguard caught incidents) and `GET /api/v1/customers/{tenant}` (profile, risk, alerts, cases, daily spend,
//! sign-ins, payments, instruments). Both are reseller-scoped like every other route.

use super::api::{case_json, need, not_visible};
use super::auth::{Permission, Principal};
use super::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{Duration, NaiveDate, Utc};
use cspguard_cases::CaseStatus;
use cspguard_detect::{Alert, Origin};
use cspguard_domain::{Event, Money};
use cspguard_store::{AlertFilter, CaseFilter};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

type Res = Result<Response, ApiError>;

/// Alerts listed on the dashboard.
const RECENT_ALERTS: usize = 15;
/// Events read for a customer page (the newest are shown).
const CUSTOMER_EVENTS: u32 = 20_000;
/// Rows per list on a customer page.
const CUSTOMER_ROWS: usize = 25;

/// Sums amounts per currency (adding two currencies is an error in the domain, so each has its own total).
fn by_currency<'a>(amounts: impl Iterator<Item = &'a Money>) -> Value {
    let mut sums: BTreeMap<String, Decimal> = BTreeMap::new();
    for m in amounts {
        *sums.entry(m.currency.to_string()).or_default() += m.amount;
    }
    json!(sums
        .into_iter()
        .map(|(c, a)| json!({"currency": c, "amount": a.round_dp(2).to_string()}))
        .collect::<Vec<_>>())
}

fn alert_brief(a: &Alert) -> Value {
    json!({
        "id": a.id, "customer_tenant_id": a.customer_tenant_id, "customer_name": a.customer_name, "kind": a.kind,
        "severity": a.severity, "score": a.score, "money_at_risk": a.money_at_risk, "origin": a.origin,
        "fired_at": a.fired_at, "summary": a.explanation.summary,
    })
}

/// For each cspguard alert linked to a Microsoft alert: how long before Microsoft's alert cspguard's fired (event
/// time: a negative lead means Microsoft was first).
fn earlier_than_microsoft(alerts: &[Alert]) -> Value {
    let by_id: HashMap<&str, &Alert> = alerts.iter().map(|a| (a.id.as_str(), a)).collect();
    let mut rows = Vec::new();
    for a in alerts.iter().filter(|a| a.origin == Origin::Cspguard) {
        let Some(ms) = a
            .related_alert_ids
            .iter()
            .filter_map(|id| by_id.get(id.as_str()))
            .filter(|m| m.origin == Origin::Microsoft)
            .min_by_key(|m| m.fired_at)
        else {
            continue;
        };
        let lead = ms.fired_at - a.fired_at;
        rows.push((
            lead,
            json!({
                "alert_id": a.id, "microsoft_alert_id": ms.id, "customer_tenant_id": a.customer_tenant_id,
                "customer_name": a.customer_name, "kind": a.kind, "fired_at": a.fired_at,
                "microsoft_fired_at": ms.fired_at, "lead_hours": lead.num_minutes() as f64 / 60.0,
                "summary": a.explanation.summary,
            }),
        ));
    }
    rows.sort_by_key(|(lead, _)| std::cmp::Reverse(*lead));
    let mut leads: Vec<i64> = rows.iter().map(|(l, _)| l.num_minutes()).collect();
    leads.sort_unstable();
    let median = leads.get(leads.len() / 2).map(|m| *m as f64 / 60.0);
    json!({
        "linked": rows.len(),
        "earlier": leads.iter().filter(|m| **m > 0).count(),
        "median_lead_hours": median,
        "incidents": rows.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
    })
}

/// The dashboard: exposure, open cases by severity with SLA clocks, recent alerts, lead over Microsoft.
#[utoipa::path(get, path = "/api/v1/dashboard",
    responses((status = 200, description = "{exposure, open_cases, by_severity, recent_alerts, earlier_than_microsoft}")),
    security(("bearer" = []), ("session" = [])))]
pub async fn dashboard(State(s): State<Arc<AppState>>, Extension(p): Extension<Principal>) -> Res {
    need(&p, Permission::ReadCases)?;
    let mut open = Vec::new();
    for r in s.store.cases(&CaseFilter::default()).await? {
        if !p.sees(&r.customer_tenant_id) {
            continue;
        }
        let c = crate::cases::parse_case(&r)?;
        if c.status != CaseStatus::Resolved {
            open.push(c);
        }
    }
    open.sort_by_key(|c| {
        (
            std::cmp::Reverse(c.severity),
            std::cmp::Reverse(c.money_at_risk.amount),
        )
    });
    let mut by_severity: BTreeMap<String, usize> = BTreeMap::new();
    for c in &open {
        *by_severity
            .entry(
                serde_json::to_value(c.severity)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
            )
            .or_default() += 1;
    }
    let now = Utc::now();
    let breached = open
        .iter()
        .filter(|c| {
            let sla = c.sla(now);
            sla.respond.breached || sla.mitigate.breached
        })
        .count();
    let alerts: Vec<Alert> = crate::detect::load_alerts(&s.store, &AlertFilter::default())
        .await?
        .into_iter()
        .filter(|a| p.sees(&a.customer_tenant_id))
        .collect();
    let open_json = open.iter().map(case_json).collect::<Result<Vec<_>, _>>()?;
    Ok(Json(json!({
        "exposure": {
            "money_at_risk": by_currency(open.iter().map(|c| &c.money_at_risk)),
            "open_cases": open.len(),
            "sla_breached": breached,
        },
        "by_severity": by_severity,
        "open_cases": open_json,
        "recent_alerts": alerts.iter().take(RECENT_ALERTS).map(alert_brief).collect::<Vec<_>>(),
        "earlier_than_microsoft": earlier_than_microsoft(&alerts),
    }))
    .into_response())
}

/// One customer: profile, risk score, alerts, cases, daily spend (with the days that have alerts), spend by region
/// and meter, recent sign-ins, payments and payment instruments.
#[utoipa::path(get, path = "/api/v1/customers/{tenant}", params(("tenant" = String, Path, description = "customer tenant ID")),
    responses((status = 200, description = "the customer"), (status = 404, description = "no such customer (or not yours)")),
    security(("bearer" = []), ("session" = [])))]
pub async fn customer(
    State(s): State<Arc<AppState>>,
    Extension(p): Extension<Principal>,
    Path(tenant): Path<String>,
) -> Res {
    need(&p, Permission::ReadCustomers)?;
    let tenant = tenant.to_ascii_lowercase();
    let missing = || not_visible(&format!("customer {tenant:?}"));
    let Ok(tid) = cspguard_domain::TenantId::parse(&tenant) else {
        return Err(missing());
    };
    if !p.sees(&tenant) {
        return Err(missing());
    }
    let profile = s
        .store
        .customers()
        .await?
        .into_iter()
        .find(|c| c.tenant_id.eq_ignore_ascii_case(&tenant));
    let alerts = crate::detect::load_alerts(
        &s.store,
        &AlertFilter {
            since: None,
            customer: Some(tenant.clone()),
        },
    )
    .await?;
    let subs: Vec<String> = s
        .store
        .azure_subscription_owners()
        .await?
        .into_iter()
        .filter(|(_, c)| c.eq_ignore_ascii_case(&tenant))
        .map(|(sub, _)| sub)
        .collect();
    if profile.is_none() && alerts.is_empty() && subs.is_empty() {
        return Err(missing());
    }
    let (engine, _) = crate::detect::load_engine(&s.store, &s.settings).await?;
    let risk = engine.customer_risk(&tid);
    let cases = s
        .store
        .cases(&CaseFilter {
            status: None,
            customer: Some(tenant.clone()),
        })
        .await?
        .iter()
        .map(|r| crate::cases::parse_case(r).map_err(ApiError::from))
        .map(|c| c.and_then(|c| case_json(&c)))
        .collect::<Result<Vec<_>, _>>()?;

    // Spend: per day (chart), per region and per meter category (totals), per currency.
    let (from, to) = (
        NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default(),
        NaiveDate::from_ymd_opt(2200, 1, 1).unwrap_or_default(),
    );
    let mut daily: BTreeMap<(NaiveDate, String), Decimal> = BTreeMap::new();
    let mut regions: BTreeMap<(String, String), Decimal> = BTreeMap::new();
    let mut meters: BTreeMap<(String, String), Decimal> = BTreeMap::new();
    for sub in &subs {
        for r in s.store.daily_meter_cost(Some(sub), from, to).await? {
            let cur = r.cost.currency.to_string();
            *daily.entry((r.usage_date, cur.clone())).or_default() += r.cost.amount;
            *regions.entry((r.region.clone(), cur.clone())).or_default() += r.cost.amount;
            *meters.entry((r.meter_category, cur)).or_default() += r.cost.amount;
        }
    }
    let alert_days: std::collections::BTreeSet<NaiveDate> =
        alerts.iter().map(|a| a.fired_at.date_naive()).collect();
    let totals = |m: BTreeMap<(String, String), Decimal>| {
        let mut v: Vec<_> = m.into_iter().collect();
        v.sort_by_key(|(_, a)| std::cmp::Reverse(*a));
        v.into_iter()
            .map(|((name, cur), a)| json!({"name": name, "currency": cur, "amount": a.round_dp(2).to_string()}))
            .collect::<Vec<_>>()
    };

    // Events: the newest sign-ins, payments and instrument changes (the store returns them oldest first).
    let events = s
        .store
        .customer_events(
            &tenant,
            Utc::now() - Duration::days(3650),
            Utc::now() + Duration::days(3650),
            CUSTOMER_EVENTS,
        )
        .await?;
    let (mut signins, mut payments, mut instruments, mut invoices) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for e in events.iter().rev() {
        match &e.envelope.event {
            Event::SignIn(x) if signins.len() < CUSTOMER_ROWS => signins.push(json!({
                "at": x.at, "user": x.user_principal_name, "succeeded": x.succeeded(), "ip": x.ip_address,
                "country": x.location.as_ref().and_then(|l| l.country.clone()), "app": x.client_app_used,
                "risk": x.risk_level_during_sign_in, "failure_reason": x.failure_reason,
            })),
            Event::Payment(x) if payments.len() < CUSTOMER_ROWS => payments.push(json!({
                "id": x.id.to_string(), "submitted_on": x.submitted_on, "amount": x.amount, "status": x.status,
                "instrument": x.instrument.as_ref().map(|i| i.to_string()), "failure_reason": x.failure_reason,
            })),
            Event::InstrumentChange(x) if instruments.len() < CUSTOMER_ROWS => {
                instruments.push(json!({
                    "at": x.at, "instrument": x.instrument.to_string(), "kind": x.kind, "action": x.action,
                    "country": x.country,
                }))
            }
            Event::Invoice(x) if invoices.len() < CUSTOMER_ROWS => invoices.push(json!({
                "id": x.id.to_string(), "issued_on": x.issued_on, "due_on": x.due_on, "amount": x.amount,
            })),
            _ => {}
        }
    }
    Ok(Json(json!({
        "tenant_id": tenant,
        "profile": profile.map(|c| json!({"name": c.name, "domain": c.domain, "country": c.country,
                                          "reseller_mpn_id": c.reseller_mpn_id})),
        "risk": risk,
        "azure_subscription_ids": subs,
        "alerts": alerts.iter().map(alert_brief).collect::<Vec<_>>(),
        "cases": cases,
        "daily_cost": daily.into_iter().map(|((d, cur), a)| json!({
            "date": d, "currency": cur, "amount": a.round_dp(2).to_string(), "alert": alert_days.contains(&d),
        })).collect::<Vec<_>>(),
        "alert_days": alert_days,
        "regions": totals(regions),
        "meters": totals(meters),
        "signins": signins,
        "payments": payments,
        "instruments": instruments,
        "invoices": invoices,
    }))
    .into_response())
}
