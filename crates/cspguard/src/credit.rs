//! `cspguard receivables` and `cspguard credit …`: credit control over the store, through `cspguard-credit`.
//!
//! - `receivables`: the aging of what customers owe (current, 1-30, 31-60, 61-90, 90+ days past due) and DSO, per
//!   customer, per indirect reseller and in total;
//! - `credit`: each customer's exposure (open invoices + unbilled usage + projected burn) against its credit limit;
//! - `credit check`: a breach of the limit opens or joins the customer's `credit_limit` case; an overdue invoice opens
//!   or joins its `nonpayment` case and plans the dunning policy's keyed actions (notices, then a suspension that needs
//!   approval). Idempotent: a case is joined, not reopened, and an action key (customer, invoice, step) is planned once;
//! - `credit partner`: the partner's own standing with Microsoft.
//!
//! Settings (`cspguard.toml`):
//! ```toml
//! [credit]
//! default_limit = "5000"          # for customers without one (in default_currency)
//! default_currency = "USD"
//! default_country = "DE"          # whose holidays apply when a customer's country is unknown
//! [credit.holidays]
//! DE = ["2026-10-03", "2026-12-25"]
//! [[credit.customers]]            # overrides the billing feed's limit and terms
//! customer = "<tenant id>"
//! limit = "5000"
//! currency = "USD"
//! terms_days = 30
//! [credit.dunning]
//! reminder_days = [1, 7, 14]
//! final_notice_day = 21
//! suspend_after_days = 30
//! channel = "billing"             # a [notify.<channel>]
//! ```

use crate::cases::{case_row, parse_case, SYSTEM};
use crate::cli::GlobalArgs;
use crate::settings::{self, Settings};
use crate::{exit, open_store};
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use cspguard_cases::{
    checklist, ActionKey, ActionKind, ActionRecord, Case, CaseStatus, PlannedAction,
};
use cspguard_credit::{
    aging, exposure, AgingRow, Bill, BusinessCalendar, DunningPolicy, DunningStep, Exposure,
    ExposureInput, InvoiceLine, InvoiceStatus, Ledger, LimitSource, PartnerStanding, PartyInfo,
    PaymentRecord, Threshold,
};
use cspguard_detect::alert::Explanation;
use cspguard_detect::{Alert, Origin, Severity};
use cspguard_domain::{Currency, Event, Instant, Money, PartnerCreditLimit, TenantId};
use cspguard_store::{AuditEntry, CaseChanges, CaseFilter, Store};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

// ---------------------------------------------------------------------------------------------------------------
// Command line

/// The credit-control commands (flattened into the top level: `cspguard receivables`, `cspguard credit …`).
#[derive(Debug, Subcommand)]
pub enum CreditCommands {
    /// What customers owe, by age (current, 1-30, 31-60, 61-90, 90+ days past due), with days sales outstanding.
    Receivables(ReceivablesArgs),
    /// Each customer's credit exposure (open invoices + unbilled usage + projected burn) against its limit.
    ///
    /// Subcommands: `check` acts on breaches and overdue invoices; `partner` shows the partner's standing with Microsoft.
    Credit(CreditArgs),
}

#[derive(Debug, Args)]
pub struct ReceivablesArgs {
    /// Only this customer (tenant ID).
    #[arg(long)]
    pub customer: Option<String>,
    /// Only the customers of this indirect reseller (MPN ID).
    #[arg(long)]
    pub reseller: Option<String>,
    /// The day to age on (YYYY-MM-DD) [default: today, UTC].
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<NaiveDate>,
    /// JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CreditArgs {
    #[command(subcommand)]
    pub command: Option<CreditSubcommand>,
    /// The day to evaluate on (YYYY-MM-DD) [default: today, UTC].
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<NaiveDate>,
    /// JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum CreditSubcommand {
    /// Evaluate limits and dunning: breaches open or join `credit_limit` cases, overdue invoices open or join
    /// `nonpayment` cases and plan the dunning actions (each once). Safe to run repeatedly; `scan` runs it too.
    Check(CreditCheckArgs),
    /// The partner's own standing with Microsoft: overdue invoices against the 60-day suspension rule, credit-limit use.
    Partner(CreditCheckArgs),
}

#[derive(Debug, Args)]
pub struct CreditCheckArgs {
    /// The day to evaluate on (YYYY-MM-DD) [default: today, UTC].
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<NaiveDate>,
    /// JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

// ---------------------------------------------------------------------------------------------------------------
// Settings

/// `[credit]` in cspguard.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CreditSettings {
    /// The limit of customers with none (from the billing feed or `[[credit.customers]]`).
    pub default_limit: Option<Decimal>,
    pub default_currency: String,
    /// Whose holidays apply to customers of unknown country (ISO 3166 alpha-2).
    pub default_country: Option<String>,
    /// Holidays per country: `DE = ["2026-10-03"]`.
    pub holidays: BTreeMap<String, Vec<NaiveDate>>,
    pub customers: Vec<CustomerCredit>,
    pub dunning: DunningPolicy,
}

impl Default for CreditSettings {
    fn default() -> Self {
        CreditSettings {
            default_limit: None,
            default_currency: "USD".into(),
            default_country: None,
            holidays: BTreeMap::new(),
            customers: Vec::new(),
            dunning: DunningPolicy::default(),
        }
    }
}

/// `[[credit.customers]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerCredit {
    pub customer: String,
    pub limit: Option<Decimal>,
    pub currency: Option<String>,
    pub terms_days: Option<u32>,
}

impl CreditSettings {
    /// Checks what parsing cannot: tenant IDs, currencies, the dunning channel.
    pub fn validate<'a>(
        &self,
        channels: impl IntoIterator<Item = &'a String>,
    ) -> anyhow::Result<()> {
        Currency::parse(&self.default_currency)
            .map_err(|e| anyhow::anyhow!("[credit] default_currency: {e}"))?;
        for (i, c) in self.customers.iter().enumerate() {
            TenantId::parse(&c.customer)
                .map_err(|e| anyhow::anyhow!("[[credit.customers]] #{}: {e}", i + 1))?;
            if let Some(cur) = &c.currency {
                Currency::parse(cur).map_err(|e| {
                    anyhow::anyhow!("[[credit.customers]] #{} currency: {e}", i + 1)
                })?;
            }
        }
        let d = &self.dunning;
        if let Some(ch) = &d.channel {
            let known: Vec<&String> = channels.into_iter().collect();
            if !known.contains(&ch) {
                anyhow::bail!(
                    "[credit.dunning] channel {ch:?} is not defined: add [notify.{ch}] or name one of: {}",
                    if known.is_empty() {
                        "(none defined)".to_string()
                    } else {
                        known.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                    }
                );
            }
        }
        if d.suspend_after_days == 0 {
            anyhow::bail!("[credit.dunning] suspend_after_days must be at least 1 (days overdue)");
        }
        Ok(())
    }

    pub fn calendar(&self) -> BusinessCalendar {
        let mut cal = BusinessCalendar::new(self.default_country.as_deref());
        for (country, days) in &self.holidays {
            cal = cal.with_holidays(country, days.iter().copied());
        }
        cal
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The book: what the store knows about billing

#[derive(Debug, Clone, Default)]
struct Profile {
    name: Option<String>,
    country: Option<String>,
    reseller: Option<String>,
    credit_limit: Option<Money>,
    terms_days: Option<u32>,
}

#[derive(Debug, Default)]
struct Book {
    profiles: BTreeMap<String, Profile>,
    bills: Vec<Bill>,
    payments: Vec<PaymentRecord>,
    partner_bills: Vec<Bill>,
    partner_payments: Vec<PaymentRecord>,
    partner_limits: Vec<PartnerCreditLimit>,
}

impl Book {
    async fn load(store: &Store) -> anyhow::Result<Book> {
        let mut b = Book::default();
        for row in store.customers().await? {
            let p = b.profiles.entry(row.tenant_id.clone()).or_default();
            p.name = row.name;
            p.country = row.country;
            p.reseller = row.reseller_mpn_id;
        }
        for e in store.billing_events().await? {
            match &e.envelope.event {
                Event::CustomerProfile(c) => {
                    let p = b
                        .profiles
                        .entry(c.customer.as_str().to_string())
                        .or_default();
                    p.name = c.name.clone().or(p.name.take());
                    p.country = c.country.clone().or(p.country.take());
                    p.reseller = c
                        .reseller
                        .as_ref()
                        .map(|r| r.as_str().to_string())
                        .or(p.reseller.take());
                    p.credit_limit = c.credit_limit.or(p.credit_limit);
                    p.terms_days = c.payment_terms_days.or(p.terms_days);
                }
                Event::Invoice(i) => b.bills.push(Bill::from_invoice(i)),
                Event::Payment(p) => b.payments.push(PaymentRecord::from_payment(p)),
                Event::PartnerInvoice(i) => b.partner_bills.push(Bill::from_partner_invoice(i)),
                Event::PartnerPayment(p) => b
                    .partner_payments
                    .push(PaymentRecord::from_partner_payment(p)),
                Event::PartnerCreditLimit(l) => b.partner_limits.push(l.clone()),
                _ => {}
            }
        }
        Ok(b)
    }

    fn parties(&self) -> HashMap<String, PartyInfo> {
        self.profiles
            .iter()
            .map(|(t, p)| {
                (
                    t.clone(),
                    PartyInfo {
                        reseller_mpn_id: p.reseller.clone(),
                        country: p.country.clone(),
                    },
                )
            })
            .collect()
    }

    fn ledger(&self, cs: &CreditSettings, as_of: NaiveDate) -> Ledger {
        Ledger::build(
            &self.bills,
            &self.payments,
            &self.parties(),
            &cs.calendar(),
            as_of,
        )
    }

    /// The limit in force: settings, else the billing feed, else the default.
    fn limit(&self, cs: &CreditSettings, tenant: &str) -> Option<(Money, LimitSource)> {
        let o = cs
            .customers
            .iter()
            .find(|c| c.customer.eq_ignore_ascii_case(tenant));
        if let Some(l) = o.and_then(|o| o.limit) {
            let cur = o
                .and_then(|o| o.currency.as_deref())
                .unwrap_or(&cs.default_currency);
            if let Ok(c) = Currency::parse(cur) {
                return Some((Money::new(l, c), LimitSource::Settings));
            }
        }
        if let Some(l) = self.profiles.get(tenant).and_then(|p| p.credit_limit) {
            return Some((l, LimitSource::Billing));
        }
        let c = Currency::parse(&cs.default_currency).ok()?;
        cs.default_limit
            .map(|l| (Money::new(l, c), LimitSource::Default))
    }

    fn terms(&self, cs: &CreditSettings, tenant: &str) -> Option<u32> {
        cs.customers
            .iter()
            .find(|c| c.customer.eq_ignore_ascii_case(tenant))
            .and_then(|c| c.terms_days)
            .or_else(|| self.profiles.get(tenant).and_then(|p| p.terms_days))
    }
}

fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

// ---------------------------------------------------------------------------------------------------------------
// receivables

/// What `cspguard receivables --json` prints (and `GET /api/v1/receivables` answers).
#[derive(Debug, Serialize)]
pub struct ReceivablesJson {
    pub as_of: NaiveDate,
    /// One row per currency.
    pub totals: Vec<AgingRow>,
    pub by_customer: Vec<AgingRow>,
    /// `-` groups direct customers.
    pub by_reseller: Vec<AgingRow>,
    /// Open invoices (paid ones left out), oldest due first.
    pub open_invoices: Vec<InvoiceLine>,
    pub unapplied: Vec<Unapplied>,
}

#[derive(Debug, Serialize)]
pub struct Unapplied {
    pub customer_tenant_id: String,
    pub amount: Money,
}

/// The receivables on `as_of` of the customers `keep` accepts (by tenant ID, lower case), as `cspguard receivables`
/// computes them.
pub async fn receivables_for(
    store: &Store,
    settings: &Settings,
    as_of: NaiveDate,
    keep: impl Fn(&str) -> bool,
) -> anyhow::Result<ReceivablesJson> {
    let book = Book::load(store).await?;
    let mut ledger = book.ledger(&settings.credit, as_of);
    ledger.invoices.retain(|l| keep(&l.customer_tenant_id));
    ledger.unapplied.retain(|(p, _)| keep(p));
    Ok(receivables_of(&ledger, as_of))
}

fn receivables_of(ledger: &Ledger, as_of: NaiveDate) -> ReceivablesJson {
    ReceivablesJson {
        as_of,
        totals: aging(ledger, |_| "all".into()),
        by_customer: aging(ledger, |l| l.customer_tenant_id.clone()),
        by_reseller: aging(ledger, |l| {
            l.reseller_mpn_id.clone().unwrap_or_else(|| "-".into())
        }),
        open_invoices: {
            let mut v: Vec<InvoiceLine> = ledger
                .invoices
                .iter()
                .filter(|l| l.status != InvoiceStatus::Paid)
                .cloned()
                .collect();
            v.sort_by(|a, b| (a.due_on, &a.invoice_id).cmp(&(b.due_on, &b.invoice_id)));
            v
        },
        unapplied: ledger
            .unapplied
            .iter()
            .map(|(p, m)| Unapplied {
                customer_tenant_id: p.clone(),
                amount: *m,
            })
            .collect(),
    }
}

async fn receivables(g: &GlobalArgs, a: ReceivablesArgs) -> anyhow::Result<i32> {
    let settings = settings::load(g)?;
    let store = open_store(g).await?;
    let book = Book::load(&store).await?;
    store.close().await;
    let as_of = a.as_of.unwrap_or_else(today);
    let mut ledger = book.ledger(&settings.credit, as_of);
    if let Some(c) = &a.customer {
        let t = TenantId::parse(c).map_err(|e| anyhow::anyhow!("--customer: {e}"))?;
        ledger
            .invoices
            .retain(|l| l.customer_tenant_id == t.as_str());
        ledger.unapplied.retain(|(p, _)| p == t.as_str());
    }
    if let Some(r) = &a.reseller {
        ledger.invoices.retain(|l| {
            l.reseller_mpn_id
                .as_deref()
                .is_some_and(|x| x.eq_ignore_ascii_case(r))
        });
        let keep: HashSet<String> = ledger
            .invoices
            .iter()
            .map(|l| l.customer_tenant_id.clone())
            .collect();
        ledger.unapplied.retain(|(p, _)| keep.contains(p));
    }
    let out = receivables_of(&ledger, as_of);
    if a.json {
        crate::outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(exit::OK);
    }
    let names = |t: &str| {
        book.profiles
            .get(t)
            .and_then(|p| p.name.clone())
            .unwrap_or_default()
    };
    crate::outln!("Receivables as of {as_of} (days past due; currencies are never added)");
    crate::out!("{}", aging_table("total", &out.totals, |_| String::new()));
    if a.reseller.is_none() && out.by_reseller.iter().any(|r| r.group != "-") {
        crate::out!(
            "{}",
            aging_table("reseller", &out.by_reseller, |_| String::new())
        );
    }
    let mut by_customer: Vec<&AgingRow> = out
        .by_customer
        .iter()
        .filter(|r| r.open.amount > Decimal::ZERO)
        .collect();
    by_customer.sort_by_key(|r| std::cmp::Reverse(r.open.amount));
    let rows: Vec<AgingRow> = by_customer.into_iter().cloned().collect();
    crate::out!("{}", aging_table("customer", &rows, names));
    let overdue = out
        .open_invoices
        .iter()
        .filter(|l| l.status == InvoiceStatus::Overdue)
        .count();
    crate::outln!(
        "{} open invoice(s), {overdue} overdue. DSO = open / invoiced in the last 90 days x 90.",
        out.open_invoices.len()
    );
    Ok(exit::OK)
}

fn aging_table(what: &str, rows: &[AgingRow], name: impl Fn(&str) -> String) -> String {
    let mut s = format!(
        "\n{:<36} {:>4} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12} {:>8}  {}\n",
        what, "cur", "current", "1-30", "31-60", "61-90", "90+", "open", "DSO", "name"
    );
    for r in rows {
        s.push_str(&format!(
            "{:<36} {:>4} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12} {:>8}  {}\n",
            r.group,
            r.currency,
            r.current.amount.round_dp(2),
            r.days_1_30.amount.round_dp(2),
            r.days_31_60.amount.round_dp(2),
            r.days_61_90.amount.round_dp(2),
            r.days_over_90.amount.round_dp(2),
            r.open.amount.round_dp(2),
            r.dso_days
                .map(|d| d.round_dp(1).to_string())
                .unwrap_or_else(|| "-".into()),
            name(&r.group)
        ));
    }
    s
}

// ---------------------------------------------------------------------------------------------------------------
// credit (exposure)

/// One customer's exposure with who it is. Field names are the JSON contract of `cspguard credit --json`.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerExposure {
    pub name: Option<String>,
    pub reseller_mpn_id: Option<String>,
    pub terms_days: Option<u32>,
    #[serde(flatten)]
    pub exposure: Exposure,
}

/// A credit alert: a customer at 70%, 85% or 100% of its limit.
#[derive(Debug, Clone, Serialize)]
pub struct CreditAlert {
    pub customer_tenant_id: String,
    pub threshold: Threshold,
    pub utilization_pct: Option<Decimal>,
    pub exposure: Money,
    pub limit: Option<Money>,
    pub message: String,
}

/// What `cspguard credit --json` prints (and `GET /api/v1/credit` answers).
#[derive(Debug, Serialize)]
pub struct CreditJson {
    pub as_of: NaiveDate,
    pub customers: Vec<CustomerExposure>,
    pub alerts: Vec<CreditAlert>,
    /// Customers at or over 100% of their limit.
    pub breaches: Vec<String>,
}

impl CreditJson {
    fn of(as_of: NaiveDate, customers: Vec<CustomerExposure>) -> CreditJson {
        CreditJson {
            as_of,
            alerts: alerts_of(&customers),
            breaches: customers
                .iter()
                .filter(|c| c.exposure.breach)
                .map(|c| c.exposure.customer_tenant_id.clone())
                .collect(),
            customers,
        }
    }
}

/// The credit exposure on `as_of` of the customers `keep` accepts (by tenant ID), as `cspguard credit` computes it.
pub async fn credit_for(
    store: &Store,
    settings: &Settings,
    as_of: NaiveDate,
    keep: impl Fn(&str) -> bool,
) -> anyhow::Result<CreditJson> {
    let mut customers = exposures_on(store, settings, as_of).await?;
    customers.retain(|c| keep(&c.exposure.customer_tenant_id));
    Ok(CreditJson::of(as_of, customers))
}

/// Every customer's exposure on `as_of`: customers with invoices, usage or a limit.
async fn exposures(
    store: &Store,
    book: &Book,
    ledger: &Ledger,
    cs: &CreditSettings,
    as_of: NaiveDate,
) -> anyhow::Result<Vec<CustomerExposure>> {
    // Usage back to the oldest unbilled day any customer can have: a year is ample for monthly invoices.
    let from = as_of - chrono::Duration::days(400);
    let mut usage: BTreeMap<String, Vec<(NaiveDate, Money)>> = BTreeMap::new();
    for r in store.customer_daily_cost(None, from, as_of).await? {
        usage
            .entry(r.customer_tenant_id)
            .or_default()
            .push((r.usage_date, r.cost));
    }
    let mut open: BTreeMap<&str, Vec<Money>> = BTreeMap::new();
    let mut through: BTreeMap<&str, NaiveDate> = BTreeMap::new();
    for l in &ledger.invoices {
        open.entry(&l.customer_tenant_id).or_default().push(l.open);
        if let Some(e) = l.period_end {
            let t = through.entry(&l.customer_tenant_id).or_insert(e);
            *t = (*t).max(e);
        }
    }
    let mut tenants: BTreeSet<String> = usage.keys().chain(book.profiles.keys()).cloned().collect();
    tenants.extend(open.keys().map(|t| t.to_string()));
    tenants.extend(cs.customers.iter().map(|c| c.customer.to_ascii_lowercase()));
    let mut out = Vec::new();
    for t in &tenants {
        let limit = book.limit(cs, t);
        let invoices = open.get(t.as_str()).cloned().unwrap_or_default();
        let days = usage.remove(t).unwrap_or_default();
        if limit.is_none() && invoices.is_empty() && days.is_empty() {
            continue;
        }
        let e = exposure(&ExposureInput {
            customer_tenant_id: t.clone(),
            limit,
            open_invoices: invoices,
            invoiced_through: through.get(t.as_str()).copied(),
            daily_usage: days,
            as_of,
        });
        let p = book.profiles.get(t);
        out.push(CustomerExposure {
            name: p.and_then(|p| p.name.clone()),
            reseller_mpn_id: p.and_then(|p| p.reseller.clone()),
            terms_days: book.terms(cs, t),
            exposure: e,
        });
    }
    Ok(out)
}

fn alerts_of(exposures: &[CustomerExposure]) -> Vec<CreditAlert> {
    exposures
        .iter()
        .filter_map(|c| {
            let e = &c.exposure;
            let t = e.threshold?;
            Some(CreditAlert {
                customer_tenant_id: e.customer_tenant_id.clone(),
                threshold: t,
                utilization_pct: e.utilization_pct,
                exposure: e.exposure,
                limit: e.limit,
                message: format!(
                    "{}{} is at {}% of its credit limit ({} of {}){}",
                    e.customer_tenant_id,
                    c.name
                        .as_ref()
                        .map(|n| format!(" ({n})"))
                        .unwrap_or_default(),
                    e.utilization_pct.unwrap_or_default().round_dp(1),
                    e.exposure,
                    e.limit.map(|l| l.to_string()).unwrap_or_default(),
                    if t == Threshold::Pct100 {
                        ": breach, a credit_limit case opens"
                    } else {
                        ""
                    }
                ),
            })
        })
        .collect()
}

/// Every customer's exposure on `as_of` (what `cspguard credit` shows), for reports.
pub async fn exposures_on(
    store: &Store,
    settings: &Settings,
    as_of: NaiveDate,
) -> anyhow::Result<Vec<CustomerExposure>> {
    let book = Book::load(store).await?;
    let ledger = book.ledger(&settings.credit, as_of);
    exposures(store, &book, &ledger, &settings.credit, as_of).await
}

async fn credit_view(g: &GlobalArgs, as_of: Option<NaiveDate>, json: bool) -> anyhow::Result<i32> {
    let settings = settings::load(g)?;
    let store = open_store(g).await?;
    let book = Book::load(&store).await?;
    let as_of = as_of.unwrap_or_else(today);
    let ledger = book.ledger(&settings.credit, as_of);
    let customers = exposures(&store, &book, &ledger, &settings.credit, as_of).await?;
    store.close().await;
    let out = CreditJson::of(as_of, customers);
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(exit::OK);
    }
    crate::outln!(
        "Credit exposure as of {as_of} (open invoices + unbilled usage + projected burn to the next invoice)\n"
    );
    crate::outln!(
        "{:<36} {:>4} {:>12} {:>12} {:>12} {:>12} {:>12} {:>8}  {}",
        "customer",
        "cur",
        "open",
        "unbilled",
        "projected",
        "exposure",
        "limit",
        "use %",
        "name"
    );
    let mut rows: Vec<&CustomerExposure> = out.customers.iter().collect();
    rows.sort_by(|a, b| {
        b.exposure
            .utilization_pct
            .cmp(&a.exposure.utilization_pct)
            .then(
                a.exposure
                    .customer_tenant_id
                    .cmp(&b.exposure.customer_tenant_id),
            )
    });
    for c in rows {
        let e = &c.exposure;
        crate::outln!(
            "{:<36} {:>4} {:>12} {:>12} {:>12} {:>12} {:>12} {:>8}  {}{}",
            e.customer_tenant_id,
            e.currency,
            e.open_invoices.amount.round_dp(2),
            e.unbilled_usage.amount.round_dp(2),
            e.projected_burn.amount.round_dp(2),
            e.exposure.amount.round_dp(2),
            e.limit
                .map(|l| l.amount.round_dp(2).to_string())
                .unwrap_or_else(|| "-".into()),
            e.utilization_pct
                .map(|p| p.round_dp(1).to_string())
                .unwrap_or_else(|| "-".into()),
            c.name.clone().unwrap_or_default(),
            if e.other_currencies.is_empty() {
                String::new()
            } else {
                format!(
                    " (also {})",
                    e.other_currencies
                        .iter()
                        .map(|m| m.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        );
    }
    crate::outln!();
    for a in &out.alerts {
        crate::outln!("{}% {}", a.threshold.percent(), a.message);
    }
    if out.alerts.is_empty() {
        crate::outln!("No customer at 70% or more of its limit.");
    }
    Ok(exit::OK)
}

// ---------------------------------------------------------------------------------------------------------------
// credit check

/// What `credit check` did. Field names are the JSON contract of `cspguard credit check --json` (and `scan --json`'s
/// `credit`).
#[derive(Debug, Default, Serialize)]
pub struct CheckReport {
    pub as_of: Option<NaiveDate>,
    pub alerts: Vec<CreditAlert>,
    pub overdue_invoices: u32,
    pub cases_opened: u32,
    pub cases_updated: u32,
    pub actions_planned: u32,
    /// What could not be planned and why (no channel, no subscription known).
    pub warnings: Vec<String>,
    /// Overdue invoices whose case a person resolved: left alone.
    pub settled: Vec<String>,
    /// The partner's own standing with Microsoft, when something needs doing (see `credit partner`).
    pub partner: Vec<String>,
}

impl CheckReport {
    pub fn render(&self) -> String {
        let mut s = format!(
            "credit: {} alert(s) at 70/85/100% of a limit, {} overdue invoice(s); {} case(s) opened, {} updated, {} action(s) planned\n",
            self.alerts.len(),
            self.overdue_invoices,
            self.cases_opened,
            self.cases_updated,
            self.actions_planned
        );
        for w in &self.warnings {
            s.push_str(&format!("  warning: {w}\n"));
        }
        for p in &self.partner {
            s.push_str(&format!("  partner: {p}\n"));
        }
        s
    }
}

/// The action key of a dunning step: one per customer, invoice and step (and subscription for a suspension), whatever
/// case it lands in, so a step is never planned twice.
pub fn dunning_key(customer: &str, invoice: &str, step: &DunningStep, target: &str) -> ActionKey {
    let h = blake3_hex(&format!(
        "dunning/v1/{customer}/{invoice}/{}/{target}",
        step.name()
    ));
    ActionKey(h)
}

/// 32 hex digits of BLAKE3, the shape of every action key.
fn blake3_hex(s: &str) -> String {
    blake3::hash(s.as_bytes()).to_hex()[..32].to_string()
}

/// The alert a credit finding opens or joins a case with (not stored as a detection alert: `credit check` re-derives
/// it from the ledger each time).
#[allow(clippy::too_many_arguments)]
fn synthetic_alert(
    id: String,
    customer: &str,
    name: Option<String>,
    kind: &str,
    score: u32,
    money: Money,
    at: Instant,
    now: Instant,
    summary: String,
    rule: String,
) -> Alert {
    Alert {
        id,
        customer_tenant_id: customer.to_string(),
        customer_name: name,
        azure_subscription_ids: Vec::new(),
        resource_ids: Vec::new(),
        kind: kind.to_string(),
        severity: Severity::from_score(score),
        score,
        money_at_risk: money,
        origin: Origin::Cspguard,
        first_evidence_at: at,
        fired_at: at,
        detected_at: now,
        updated_at: at,
        explanation: Explanation {
            summary,
            rule,
            money: "credit control: the amount owed or exposed".into(),
            signals: Vec::new(),
        },
        related_alert_ids: Vec::new(),
    }
}

struct CaseBook {
    by_customer: HashMap<String, Vec<Case>>,
    changed: BTreeMap<String, (Case, bool, serde_json::Value)>,
}

impl CaseBook {
    /// Files `alert` (whose ID names the finding: the customer and its oldest overdue invoice, or the customer and the
    /// month of a credit-limit breach). A case that already holds it keeps it — and when that case was resolved, the
    /// partner has decided about this finding: `None`, nothing more is done. Otherwise it joins the customer's
    /// unresolved case of the same kind, or opens one. A repeated check changes nothing.
    fn file(
        &mut self,
        alert: &Alert,
        settings: &Settings,
        now: Instant,
        detail: serde_json::Value,
    ) -> Option<String> {
        let cases = self
            .by_customer
            .entry(alert.customer_tenant_id.clone())
            .or_default();
        let holder = cases
            .iter()
            .position(|c| c.alert_ids.contains(&alert.id))
            .or_else(|| {
                cases
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.status != CaseStatus::Resolved && c.kind == alert.kind)
                    .max_by_key(|(_, c)| c.opened_at)
                    .map(|(i, _)| i)
            });
        if let Some(i) = holder {
            let c = &mut cases[i];
            if c.status == CaseStatus::Resolved {
                return None;
            }
            if c.join(alert, now) {
                let opened = self.changed.get(&c.id.0).is_some_and(|x| x.1);
                self.changed
                    .insert(c.id.0.clone(), (c.clone(), opened, detail));
            }
            return Some(c.id.0.clone());
        }
        let mut c = Case::open(alert, now, settings.cases.sla());
        c.checklist = checklist::for_kind("nonpayment");
        let id = c.id.0.clone();
        self.changed.insert(id.clone(), (c.clone(), true, detail));
        cases.push(c);
        Some(id)
    }
}

/// Evaluates credit limits and dunning on `as_of`, opening or joining cases and planning actions. Idempotent.
pub async fn check(
    store: &Store,
    settings: &Settings,
    as_of: NaiveDate,
    now: Instant,
) -> anyhow::Result<CheckReport> {
    let cs = &settings.credit;
    let book = Book::load(store).await?;
    let ledger = book.ledger(cs, as_of);
    let customers = exposures(store, &book, &ledger, cs, as_of).await?;
    let partner = cspguard_credit::standing(
        &book.partner_bills,
        &book.partner_payments,
        &book.partner_limits,
        &cs.calendar(),
        as_of,
    );
    let mut report = CheckReport {
        as_of: Some(as_of),
        alerts: alerts_of(&customers),
        partner: if partner.suspension_risk || partner.credit_notice.is_some() {
            partner.advice
        } else {
            Vec::new()
        },
        ..Default::default()
    };
    let mut cb = CaseBook {
        by_customer: HashMap::new(),
        changed: BTreeMap::new(),
    };
    for row in store.cases(&CaseFilter::default()).await? {
        let c = parse_case(&row)?;
        cb.by_customer
            .entry(c.customer_tenant_id.clone())
            .or_default()
            .push(c);
    }
    let at = as_of.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let name = |t: &str| book.profiles.get(t).and_then(|p| p.name.clone());

    // Breaches.
    for c in customers.iter().filter(|c| c.exposure.breach) {
        let e = &c.exposure;
        let t = &e.customer_tenant_id;
        let alert = synthetic_alert(
            format!("credit/credit_limit/{t}/{}", as_of.format("%Y-%m")),
            t,
            c.name.clone(),
            "credit_limit",
            75,
            e.exposure,
            at,
            now,
            format!(
                "Exposure {} (open invoices {}, unbilled usage {}, projected burn {}) is {}% of the credit limit {}.",
                e.exposure,
                e.open_invoices,
                e.unbilled_usage,
                e.projected_burn,
                e.utilization_pct.unwrap_or_default(),
                e.limit.map(|l| l.to_string()).unwrap_or_default()
            ),
            "credit control: exposure at or over 100% of the limit".into(),
        );
        let _ = cb.file(
            &alert,
            settings,
            now,
            serde_json::json!({"source": "credit", "kind": "credit_limit", "exposure": e.exposure.to_string(),
                "limit": e.limit.map(|l| l.to_string()), "utilization_pct": e.utilization_pct}),
        );
    }

    // Dunning: overdue invoices, per customer, oldest first.
    let policy = &cs.dunning;
    let mut overdue: BTreeMap<&str, Vec<&InvoiceLine>> = BTreeMap::new();
    for l in ledger
        .invoices
        .iter()
        .filter(|l| l.status == InvoiceStatus::Overdue)
    {
        overdue.entry(&l.customer_tenant_id).or_default().push(l);
    }
    report.overdue_invoices = overdue.values().map(|v| v.len() as u32).sum();
    let existing: HashSet<String> = store
        .actions(None, None)
        .await?
        .into_iter()
        .map(|a| a.key)
        .collect();
    let mut ch = CaseChanges::default();
    let mut planned: Vec<ActionRecord> = Vec::new();
    let mut warned_channel = false;
    for (t, mut lines) in overdue {
        lines.sort_by(|a, b| (a.due_on, &a.invoice_id).cmp(&(b.due_on, &b.invoice_id)));
        let oldest = lines[0];
        let mut by_currency: BTreeMap<Currency, Decimal> = BTreeMap::new();
        for l in &lines {
            *by_currency.entry(l.open.currency).or_default() += l.open.amount;
        }
        let (cur, owed) = by_currency
            .iter()
            .max_by_key(|(_, v)| **v)
            .map(|(c, v)| (*c, *v))
            .unwrap_or((oldest.open.currency, oldest.open.amount));
        let days = oldest.days_past_due;
        let score = if days > i64::from(policy.suspend_after_days) {
            85
        } else if days >= i64::from(policy.final_notice_day) {
            75
        } else {
            60
        };
        // The evidence: the first day the oldest invoice was past due.
        let past_due = (oldest.due_on + chrono::Duration::days(1))
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default()
            .and_utc();
        let alert = synthetic_alert(
            format!("credit/nonpayment/{t}/{}", oldest.invoice_id),
            t,
            name(t),
            "nonpayment",
            score,
            Money::new(owed, cur),
            past_due,
            now,
            format!(
                "{} overdue invoice(s); the oldest, {} of {} due {}, is {} days past due with {} open{}.",
                lines.len(),
                oldest.invoice_id,
                oldest.amount,
                oldest.due_on,
                days,
                oldest.open,
                if oldest.reopened { " (reopened by a dispute)" } else { "" }
            ),
            "credit control: an invoice past its due date and posting window".into(),
        );
        let Some(case_id) = cb.file(
            &alert,
            settings,
            now,
            serde_json::json!({"source": "credit", "kind": "nonpayment", "invoice": oldest.invoice_id,
                "days_past_due": days, "owed": Money::new(owed, cur).to_string()}),
        ) else {
            report.settled.push(format!(
                "{t}: invoice {} is overdue but its nonpayment case was resolved: no dunning",
                oldest.invoice_id
            ));
            continue;
        };
        let subs = store.customer_billing_subscriptions(t).await?;
        for (i, l) in lines.iter().enumerate() {
            for step in policy.steps(l.days_past_due) {
                let reason = format!(
                    "dunning: invoice {} of {} due {}, {} days past due, {} open: {}",
                    l.invoice_id,
                    l.amount,
                    l.due_on,
                    l.days_past_due,
                    l.open,
                    step.describe()
                );
                match step {
                    DunningStep::Reminder { .. } | DunningStep::FinalNotice { .. } => {
                        let Some(channel) = &policy.channel else {
                            if !warned_channel {
                                report.warnings.push(
                                    "dunning notices not planned: set [credit.dunning] channel to a [notify.<channel>]"
                                        .into(),
                                );
                                warned_channel = true;
                            }
                            continue;
                        };
                        planned.push(ActionRecord::new(
                            PlannedAction {
                                key: dunning_key(t, &l.invoice_id, &step, channel),
                                case_id: case_id.clone(),
                                playbook: "dunning".into(),
                                kind: ActionKind::Notify {
                                    channel: channel.clone(),
                                },
                                approvals_required: 0,
                                dry_run: settings.actions.dry_run,
                                reason,
                            },
                            now,
                        ));
                    }
                    DunningStep::Suspend { .. } => {
                        // One suspension per customer: the oldest invoice past the limit asks for it.
                        if i > 0 {
                            continue;
                        }
                        if subs.is_empty() {
                            report.warnings.push(format!(
                                "{t}: invoice {} calls for suspension but no subscription of the customer is known (import its usage)",
                                l.invoice_id
                            ));
                        }
                        let approvals = if Money::new(owed, cur).amount
                            > settings.actions.two_approvers_above
                        {
                            2
                        } else {
                            1
                        };
                        for s in &subs {
                            planned.push(ActionRecord::new(
                                PlannedAction {
                                    key: dunning_key(t, &l.invoice_id, &step, s),
                                    case_id: case_id.clone(),
                                    playbook: "dunning".into(),
                                    kind: ActionKind::SuspendSubscription {
                                        customer_tenant_id: t.to_string(),
                                        subscription_id: s.clone(),
                                    },
                                    approvals_required: approvals,
                                    dry_run: settings.actions.dry_run,
                                    reason: reason.clone(),
                                },
                                now,
                            ));
                        }
                    }
                }
            }
        }
    }

    for (id, (case, opened, detail)) in &cb.changed {
        if *opened {
            report.cases_opened += 1;
        } else {
            report.cases_updated += 1;
        }
        ch.cases.push(case_row(case)?);
        ch.audit.push(
            AuditEntry::new(
                now,
                SYSTEM,
                if *opened {
                    "case.opened"
                } else {
                    "case.updated"
                },
                detail.clone(),
            )
            .case(id),
        );
    }
    for rec in planned {
        if existing.contains(&rec.key.0) || ch.new_actions.iter().any(|a| a.key == rec.key.0) {
            continue;
        }
        crate::cases::plan_action(&mut ch, &rec, now)?;
    }
    let committed = store.commit_case_changes(&ch).await?;
    report.actions_planned = committed.inserted_actions.len() as u32;
    Ok(report)
}

/// `credit check` as of today: what `scan` runs after case intake.
pub async fn check_now(store: &Store, settings: &Settings) -> anyhow::Result<CheckReport> {
    let now = chrono::Utc::now();
    check(store, settings, now.date_naive(), now).await
}

async fn run_check(g: &GlobalArgs, a: CreditCheckArgs) -> anyhow::Result<i32> {
    let settings = settings::load(g)?;
    let store = open_store(g).await?;
    let r = check(
        &store,
        &settings,
        a.as_of.unwrap_or_else(today),
        chrono::Utc::now(),
    )
    .await?;
    store.close().await;
    if a.json {
        crate::outln!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        crate::out!("{}", r.render());
        for al in &r.alerts {
            crate::outln!("  {}% {}", al.threshold.percent(), al.message);
        }
    }
    Ok(exit::OK)
}

// ---------------------------------------------------------------------------------------------------------------
// credit partner

async fn run_partner(g: &GlobalArgs, a: CreditCheckArgs) -> anyhow::Result<i32> {
    let settings = settings::load(g)?;
    let store = open_store(g).await?;
    let book = Book::load(&store).await?;
    store.close().await;
    let as_of = a.as_of.unwrap_or_else(today);
    let s: PartnerStanding = cspguard_credit::standing(
        &book.partner_bills,
        &book.partner_payments,
        &book.partner_limits,
        &settings.credit.calendar(),
        as_of,
    );
    if a.json {
        crate::outln!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(exit::OK);
    }
    if s.invoices.is_empty() && s.credit_limit.is_none() {
        crate::outln!(
            "No partner records: import the partner's Microsoft invoices, payments and credit limit as billing JSONL \
             (type partner_invoice, partner_payment, partner_credit_limit; see docs/formats.md)."
        );
        return Ok(exit::OK);
    }
    let list = |v: &[Money]| {
        if v.is_empty() {
            "nothing".to_string()
        } else {
            v.iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    crate::outln!("The partner's standing with Microsoft as of {as_of}");
    crate::outln!("  open: {}; overdue: {}", list(&s.open), list(&s.overdue));
    if let Some(d) = s.oldest_overdue_days {
        let left = s.days_to_suspension.unwrap_or_default();
        crate::outln!(
            "  oldest overdue: {d} days ({})",
            if left >= 0 {
                format!("{left} days before the 60-day suspension rule")
            } else {
                format!("{} days past the 60-day suspension rule", -left)
            }
        );
    }
    crate::outln!("  late payments: {}", s.late_payments);
    if let (Some(l), Some(u)) = (s.credit_limit, s.credit_used) {
        crate::outln!(
            "  credit limit: {l}, used {u} ({}%)",
            s.credit_use_pct.unwrap_or_default().round_dp(1)
        );
    }
    for line in &s.invoices {
        crate::outln!(
            "  {} due {} {}: open {} ({:?}, posting deadline {})",
            line.invoice_id,
            line.due_on,
            line.amount,
            line.open,
            line.status,
            line.posting_deadline
        );
    }
    for a in &s.advice {
        crate::outln!("  ! {a}");
    }
    Ok(exit::OK)
}

/// `cspguard receivables` and `cspguard credit …`.
pub async fn run(g: &GlobalArgs, command: CreditCommands) -> anyhow::Result<i32> {
    match command {
        CreditCommands::Receivables(a) => receivables(g, a).await,
        CreditCommands::Credit(a) => match a.command {
            None => credit_view(g, a.as_of, a.json).await,
            Some(CreditSubcommand::Check(c)) => run_check(g, c).await,
            Some(CreditSubcommand::Partner(c)) => run_partner(g, c).await,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn credit_settings_parse_with_toml_dates_or_strings() {
        let s = settings::parse(
            r#"
[notify.billing]
type = "webhook"
url_env = "X"
[credit]
default_limit = "2500"
default_country = "de"
[credit.holidays]
DE = [2026-10-07, "2026-12-25"]
[[credit.customers]]
customer = "795B929E-9A9A-80FD-EA7B-5BF55EB561A4"
limit = "5000"
currency = "EUR"
terms_days = 14
[credit.dunning]
reminder_days = [3]
channel = "billing"
"#,
        )
        .unwrap();
        let c = &s.credit;
        assert_eq!(c.default_limit, Some(Decimal::from(2500)));
        assert_eq!(c.dunning.reminder_days, [3]);
        assert_eq!(c.dunning.final_notice_day, 21);
        let cal = c.calendar();
        assert!(!cal.is_business_day(d("2026-10-07"), None));
        assert!(!cal.is_business_day(d("2026-12-25"), Some("DE")));
        assert!(cal.is_business_day(d("2026-10-07"), Some("US")));
        let book = Book::default();
        let (limit, src) = book
            .limit(c, "795b929e-9a9a-80fd-ea7b-5bf55eb561a4")
            .unwrap();
        assert_eq!(
            (limit, src),
            (Money::parse("5000", "EUR").unwrap(), LimitSource::Settings)
        );
        assert_eq!(
            book.terms(c, "795b929e-9a9a-80fd-ea7b-5bf55eb561a4"),
            Some(14)
        );
        let (limit, src) = book.limit(c, "other").unwrap();
        assert_eq!(
            (limit, src),
            (Money::parse("2500", "USD").unwrap(), LimitSource::Default)
        );
    }

    #[test]
    fn bad_credit_settings_say_what_to_fix() {
        for (text, says) in [
            ("[credit]\ndefault_limt = \"1\"\n", "default_limt"),
            (
                "[credit]\ndefault_currency = \"dollars\"\n",
                "default_currency",
            ),
            (
                "[[credit.customers]]\ncustomer = \"acme\"\nlimit = \"1\"\n",
                "[[credit.customers]] #1",
            ),
            (
                "[credit.dunning]\nchannel = \"mail\"\n",
                "add [notify.mail]",
            ),
            (
                "[credit.dunning]\nsuspend_after_days = 0\n",
                "suspend_after_days",
            ),
        ] {
            let e = format!("{:#}", settings::parse(text).unwrap_err());
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn dunning_keys_differ_by_invoice_step_and_target() {
        let r7 = DunningStep::Reminder { day: 7 };
        let r14 = DunningStep::Reminder { day: 14 };
        let k = dunning_key("t", "I1", &r7, "billing");
        assert_eq!(k, dunning_key("t", "I1", &r7, "billing"));
        assert_eq!(k.0.len(), 32);
        assert_ne!(k, dunning_key("t", "I2", &r7, "billing"));
        assert_ne!(k, dunning_key("t", "I1", &r14, "billing"));
        assert_ne!(k, dunning_key("t", "I1", &r7, "other"));
        assert_ne!(k, dunning_key("u", "I1", &r7, "billing"));
    }
}
