//! `cspguard report liability`: what the partner is liable for and what cspguard did about it.
//!
//! - **Exposure** per customer is `cspguard credit`'s (open invoices + unbilled usage + projected burn); **money at
//!   risk** is that of the customer's unresolved cases. Both by customer and by indirect reseller (`-` = direct).
//! - **Saved by early action**: for each case that both cspguard and Microsoft alerted on, the spend of the case's
//!   Azure subscriptions from the day after cspguard's first alert through the day of Microsoft's first alert — what a
//!   partner acting on Microsoft's alert alone would also have paid. Usage is daily, so an alert a few hours earlier on
//!   the same day counts nothing. Cases Microsoft never alerted on are counted apart (there, everything stopped after
//!   cspguard's alert is saved, but there is no Microsoft time to measure against).
//! - **Credits**: Microsoft fraud-credit exception requests, claimed (at submission) and received (approved).
//! - **Over time**: the same per month of the incidents' first evidence.
//!
//! Money is per currency and never converted.

use crate::cli::GlobalArgs;
use anyhow::Context;
use chrono::{Datelike, NaiveDate};
use cspguard_cases::{Case, CaseStatus};
use cspguard_detect::{Alert, Origin};
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, clap::Subcommand)]
pub enum ReportCommand {
    /// Exposure and money at risk by customer and reseller, money saved by early actions, credits claimed and
    /// received, over time.
    Liability {
        /// The day to report on (YYYY-MM-DD) [default: today, UTC].
        #[arg(long, value_name = "DATE")]
        as_of: Option<NaiveDate>,
        #[arg(long)]
        json: bool,
        /// Customers listed (by exposure plus money at risk).
        #[arg(long, default_value_t = 15)]
        top: usize,
    },
}

type Sums = BTreeMap<String, Decimal>;

fn add(s: &mut Sums, cur: &str, v: Decimal) {
    *s.entry(cur.to_string()).or_default() += v;
}

#[derive(Debug, Default, Serialize)]
pub struct CustomerLine {
    pub customer_tenant_id: String,
    pub name: Option<String>,
    pub reseller_mpn_id: Option<String>,
    pub exposure: Sums,
    pub money_at_risk: Sums,
    pub open_cases: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct ResellerLine {
    pub reseller_mpn_id: String,
    pub customers: u64,
    pub exposure: Sums,
    pub money_at_risk: Sums,
    pub open_cases: u64,
}

#[derive(Debug, Serialize)]
pub struct EarlyAction {
    pub case_id: String,
    pub customer_tenant_id: String,
    pub cspguard_alert_at: cspguard_domain::Instant,
    pub microsoft_alert_at: Option<cspguard_domain::Instant>,
    pub hours_earlier: Option<f64>,
    /// Spend between cspguard's and Microsoft's alerts (daily usage), per currency.
    pub saved: Sums,
}

#[derive(Debug, Serialize)]
pub struct CreditLine {
    pub request_id: String,
    pub customer_tenant_id: String,
    pub status: String,
    pub claimed: Option<String>,
    pub credited: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct MonthLine {
    pub month: String,
    pub cases: u64,
    pub money_at_risk: Sums,
    pub saved: Sums,
    pub claimed: Sums,
    pub credited: Sums,
}

#[derive(Debug, Serialize)]
pub struct Liability {
    pub as_of: NaiveDate,
    pub exposure: Sums,
    pub money_at_risk: Sums,
    pub saved_by_early_action: Sums,
    pub credits_claimed: Sums,
    pub credits_received: Sums,
    pub cases_microsoft_never_alerted: u64,
    pub by_reseller: Vec<ResellerLine>,
    pub top_customers: Vec<CustomerLine>,
    pub early_actions: Vec<EarlyAction>,
    pub credits: Vec<CreditLine>,
    pub by_month: Vec<MonthLine>,
}

fn month(t: cspguard_domain::Instant) -> String {
    format!("{:04}-{:02}", t.year(), t.month())
}

/// The liability report on `as_of`.
pub async fn liability(
    store: &cspguard_store::Store,
    settings: &crate::settings::Settings,
    as_of: NaiveDate,
    top: usize,
) -> anyhow::Result<Liability> {
    liability_for(store, settings, as_of, top, |_| true).await
}

/// The liability report on `as_of` over the customers `keep` accepts (by tenant ID): their exposure, cases and
/// exception requests (`GET /api/v1/report/liability` for a reseller-scoped user).
pub async fn liability_for(
    store: &cspguard_store::Store,
    settings: &crate::settings::Settings,
    as_of: NaiveDate,
    top: usize,
    keep: impl Fn(&str) -> bool,
) -> anyhow::Result<Liability> {
    let mut exposures = crate::credit::exposures_on(store, settings, as_of).await?;
    exposures.retain(|e| keep(&e.exposure.customer_tenant_id));
    let cases: Vec<Case> = store
        .cases(&Default::default())
        .await?
        .iter()
        .filter(|c| keep(&c.customer_tenant_id))
        .map(crate::cases::parse_case)
        .collect::<anyhow::Result<_>>()?;
    let alerts = crate::detect::load_alerts(store, &Default::default()).await?;
    let by_id: HashMap<&str, &Alert> = alerts.iter().map(|a| (a.id.as_str(), a)).collect();
    let names: HashMap<String, (Option<String>, Option<String>)> = store
        .customers()
        .await?
        .into_iter()
        .map(|c| (c.tenant_id, (c.name, c.reseller_mpn_id)))
        .collect();

    let mut customers: BTreeMap<String, CustomerLine> = BTreeMap::new();
    let mut entry = |t: &str| {
        let (name, reseller) = names.get(t).cloned().unwrap_or_default();
        customers
            .entry(t.to_string())
            .or_insert_with(|| CustomerLine {
                customer_tenant_id: t.to_string(),
                name,
                reseller_mpn_id: reseller,
                ..Default::default()
            })
            .customer_tenant_id
            .clone()
    };
    let mut exposure_rows: Vec<(String, String, Decimal)> = Vec::new();
    for e in &exposures {
        let t = entry(&e.exposure.customer_tenant_id);
        exposure_rows.push((
            t,
            e.exposure.exposure.currency.as_str().to_string(),
            e.exposure.exposure.amount,
        ));
    }
    let mut risk_rows: Vec<(String, String, Decimal)> = Vec::new();
    for c in cases.iter().filter(|c| c.status != CaseStatus::Resolved) {
        let t = entry(&c.customer_tenant_id);
        risk_rows.push((
            t,
            c.money_at_risk.currency.as_str().to_string(),
            c.money_at_risk.amount,
        ));
    }
    let mut r = Liability {
        as_of,
        exposure: Sums::new(),
        money_at_risk: Sums::new(),
        saved_by_early_action: Sums::new(),
        credits_claimed: Sums::new(),
        credits_received: Sums::new(),
        cases_microsoft_never_alerted: 0,
        by_reseller: Vec::new(),
        top_customers: Vec::new(),
        early_actions: Vec::new(),
        credits: Vec::new(),
        by_month: Vec::new(),
    };
    for (t, cur, v) in &exposure_rows {
        if let Some(l) = customers.get_mut(t) {
            add(&mut l.exposure, cur, *v);
        }
        add(&mut r.exposure, cur, *v);
    }
    for (t, cur, v) in &risk_rows {
        if let Some(l) = customers.get_mut(t) {
            add(&mut l.money_at_risk, cur, *v);
            l.open_cases += 1;
        }
        add(&mut r.money_at_risk, cur, *v);
    }
    let mut months: BTreeMap<String, MonthLine> = BTreeMap::new();
    for c in &cases {
        let m = months
            .entry(month(c.first_evidence_at))
            .or_insert_with(|| MonthLine {
                month: month(c.first_evidence_at),
                ..Default::default()
            });
        m.cases += 1;
        add(
            &mut m.money_at_risk,
            c.money_at_risk.currency.as_str(),
            c.money_at_risk.amount,
        );
        let mut own: Option<cspguard_domain::Instant> = None;
        let mut ms: Option<cspguard_domain::Instant> = None;
        for a in c.alert_ids.iter().filter_map(|id| by_id.get(id.as_str())) {
            let slot = if a.origin == Origin::Microsoft {
                &mut ms
            } else {
                &mut own
            };
            *slot = Some(slot.map_or(a.fired_at, |t| t.min(a.fired_at)));
        }
        let Some(own) = own else { continue };
        let mut saved = Sums::new();
        match ms {
            None => r.cases_microsoft_never_alerted += 1,
            Some(ms) if ms > own => {
                let from = own.date_naive() + chrono::Duration::days(1);
                let to = ms.date_naive();
                if from <= to {
                    for sub in &c.azure_subscription_ids {
                        for d in store.daily_meter_cost(Some(sub), from, to).await? {
                            add(&mut saved, d.cost.currency.as_str(), d.cost.amount);
                        }
                    }
                }
            }
            Some(_) => {}
        }
        for (cur, v) in &saved {
            add(&mut r.saved_by_early_action, cur, *v);
            add(&mut m.saved, cur, *v);
        }
        r.early_actions.push(EarlyAction {
            case_id: c.id.0.clone(),
            customer_tenant_id: c.customer_tenant_id.clone(),
            cspguard_alert_at: own,
            microsoft_alert_at: ms,
            hours_earlier: ms.map(|ms| (ms - own).num_minutes() as f64 / 60.0),
            saved,
        });
    }
    let case_month: HashMap<&str, String> = cases
        .iter()
        .map(|c| (c.id.0.as_str(), month(c.first_evidence_at)))
        .collect();
    for row in store.exception_requests().await? {
        let req: cspguard_exception::ExceptionRequest = serde_json::from_str(&row.body)
            .with_context(|| format!("exception request {} is unreadable", row.id))?;
        if !keep(&req.customer_tenant_id) {
            continue;
        }
        let m = case_month
            .get(req.case_id.as_str())
            .cloned()
            .unwrap_or_else(|| month(req.created_at));
        let ml = months.entry(m.clone()).or_insert_with(|| MonthLine {
            month: m,
            ..Default::default()
        });
        if let Some(c) = req.claimed_total {
            add(&mut r.credits_claimed, c.currency.as_str(), c.amount);
            add(&mut ml.claimed, c.currency.as_str(), c.amount);
        }
        if let Some(c) = req.credited {
            add(&mut r.credits_received, c.currency.as_str(), c.amount);
            add(&mut ml.credited, c.currency.as_str(), c.amount);
        }
        r.credits.push(CreditLine {
            request_id: req.id.clone(),
            customer_tenant_id: req.customer_tenant_id.clone(),
            status: req.status.as_str().to_string(),
            claimed: req.claimed_total.map(|m| m.to_string()),
            credited: req.credited.map(|m| m.to_string()),
        });
    }
    let mut resellers: BTreeMap<String, ResellerLine> = BTreeMap::new();
    for l in customers.values() {
        let key = l.reseller_mpn_id.clone().unwrap_or_else(|| "-".into());
        let rl = resellers
            .entry(key.clone())
            .or_insert_with(|| ResellerLine {
                reseller_mpn_id: key,
                ..Default::default()
            });
        rl.customers += 1;
        rl.open_cases += l.open_cases;
        for (c, v) in &l.exposure {
            add(&mut rl.exposure, c, *v);
        }
        for (c, v) in &l.money_at_risk {
            add(&mut rl.money_at_risk, c, *v);
        }
    }
    r.by_reseller = resellers.into_values().collect();
    let mut top_list: Vec<CustomerLine> = customers.into_values().collect();
    let weight = |l: &CustomerLine| -> Decimal {
        l.exposure.values().copied().sum::<Decimal>()
            + l.money_at_risk.values().copied().sum::<Decimal>()
    };
    top_list.sort_by_key(|l| std::cmp::Reverse(weight(l)));
    top_list.truncate(top);
    r.top_customers = top_list;
    r.by_month = months.into_values().collect();
    Ok(r)
}

fn sums(s: &Sums) -> String {
    if s.is_empty() {
        return "0".into();
    }
    s.iter()
        .map(|(c, v)| format!("{} {c}", v.round_dp(2)))
        .collect::<Vec<_>>()
        .join(" + ")
}

pub fn render(r: &Liability) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "liability on {}", r.as_of);
    let _ = writeln!(
        s,
        "  exposure (open invoices + unbilled + projected burn): {}",
        sums(&r.exposure)
    );
    let _ = writeln!(
        s,
        "  money at risk in unresolved cases:                  {}",
        sums(&r.money_at_risk)
    );
    let _ = writeln!(
        s,
        "  saved by acting on cspguard before Microsoft:       {} ({} case(s) Microsoft never alerted on)",
        sums(&r.saved_by_early_action),
        r.cases_microsoft_never_alerted
    );
    let _ = writeln!(
        s,
        "  fraud credits claimed / received:                   {} / {}",
        sums(&r.credits_claimed),
        sums(&r.credits_received)
    );
    let _ = writeln!(
        s,
        "\n  {:<10} {:>9} {:>6}  {:<32} MONEY AT RISK",
        "RESELLER", "CUSTOMERS", "CASES", "EXPOSURE"
    );
    for l in &r.by_reseller {
        let _ = writeln!(
            s,
            "  {:<10} {:>9} {:>6}  {:<32} {}",
            l.reseller_mpn_id,
            l.customers,
            l.open_cases,
            sums(&l.exposure),
            sums(&l.money_at_risk)
        );
    }
    let _ = writeln!(
        s,
        "\n  {:<30} {:<10} {:<24} MONEY AT RISK",
        "CUSTOMER", "RESELLER", "EXPOSURE"
    );
    for l in &r.top_customers {
        let _ = writeln!(
            s,
            "  {:<30} {:<10} {:<24} {}",
            l.name
                .as_deref()
                .unwrap_or(&l.customer_tenant_id)
                .chars()
                .take(30)
                .collect::<String>(),
            l.reseller_mpn_id.as_deref().unwrap_or("-"),
            sums(&l.exposure),
            sums(&l.money_at_risk)
        );
    }
    let _ = writeln!(
        s,
        "\n  {:<8} {:>5}  {:<20} {:<20} {:<14} CREDITED",
        "MONTH", "CASES", "MONEY AT RISK", "SAVED", "CLAIMED"
    );
    for m in &r.by_month {
        let _ = writeln!(
            s,
            "  {:<8} {:>5}  {:<20} {:<20} {:<14} {}",
            m.month,
            m.cases,
            sums(&m.money_at_risk),
            sums(&m.saved),
            sums(&m.claimed),
            sums(&m.credited)
        );
    }
    s
}

pub async fn run(g: &GlobalArgs, command: ReportCommand) -> anyhow::Result<i32> {
    let ReportCommand::Liability { as_of, json, top } = command;
    let settings = crate::settings::load(g)?;
    let store = crate::open_store(g).await?;
    let as_of = as_of.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let r = liability(&store, &settings, as_of, top).await;
    store.close().await;
    let r = r?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        crate::out!("{}", render(&r));
    }
    Ok(crate::exit::OK)
}
