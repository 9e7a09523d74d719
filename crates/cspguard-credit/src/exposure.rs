//! Credit exposure against a customer's credit limit.
//!
//! ```text
//! exposure       = open invoices + unbilled usage + projected burn
//! unbilled usage = usage cost on days after the last invoiced period's end (through the last day with usage data)
//! projected burn = daily burn x days from the day after the last usage day to the next invoice date (inclusive of
//!                  neither end: the invoice date itself is billed next period)
//! daily burn     = usage cost of the last BURN_WINDOW_DAYS days with data up to the last usage day / BURN_WINDOW_DAYS
//! next invoice   = the first day of the month after the last usage day (new commerce invoices cover a calendar month)
//! utilization    = exposure / limit x 100, in the limit's currency
//! ```
//! Amounts in a currency other than the limit's are reported apart (`other_currencies`) and never added.

use chrono::{Datelike, NaiveDate};
use cspguard_domain::{Currency, Money};
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::BTreeMap;

/// Days of usage the daily burn averages.
pub const BURN_WINDOW_DAYS: i64 = 7;

/// Credit-alert thresholds, in percent of the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Threshold {
    #[serde(rename = "70")]
    Pct70,
    #[serde(rename = "85")]
    Pct85,
    /// The limit is reached: a breach.
    #[serde(rename = "100")]
    Pct100,
}

impl Threshold {
    pub fn percent(self) -> u32 {
        match self {
            Threshold::Pct70 => 70,
            Threshold::Pct85 => 85,
            Threshold::Pct100 => 100,
        }
    }
    /// The highest threshold `used / limit` reached (exact, not rounded: 69.999% is below 70%).
    pub fn reached(used: Decimal, limit: Decimal) -> Option<Threshold> {
        if limit <= Decimal::ZERO {
            return None;
        }
        let h = Decimal::from(100);
        let pct = |p: u32| used * h >= limit * Decimal::from(p);
        if pct(100) {
            Some(Threshold::Pct100)
        } else if pct(85) {
            Some(Threshold::Pct85)
        } else if pct(70) {
            Some(Threshold::Pct70)
        } else {
            None
        }
    }
}

/// Where a limit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitSource {
    /// `[[credit.customers]]` in cspguard.toml.
    Settings,
    /// The customer record of the billing feed.
    Billing,
    /// `[credit] default_limit`.
    Default,
}

/// What exposure is computed from, for one customer.
#[derive(Debug, Clone, PartialEq)]
pub struct ExposureInput {
    pub customer_tenant_id: String,
    pub limit: Option<(Money, LimitSource)>,
    /// Open amounts of the customer's invoices.
    pub open_invoices: Vec<Money>,
    /// The end of the last invoiced period: usage after it is unbilled.
    pub invoiced_through: Option<NaiveDate>,
    /// Usage cost per day (any order, several rows a day allowed).
    pub daily_usage: Vec<(NaiveDate, Money)>,
    pub as_of: NaiveDate,
}

/// One customer's exposure. Field names are the JSON contract of `cspguard credit --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exposure {
    pub customer_tenant_id: String,
    pub currency: Currency,
    pub limit: Option<Money>,
    pub limit_source: Option<LimitSource>,
    pub open_invoices: Money,
    pub unbilled_usage: Money,
    pub unbilled_from: Option<NaiveDate>,
    pub last_usage_day: Option<NaiveDate>,
    pub daily_burn: Money,
    pub next_invoice_on: Option<NaiveDate>,
    pub days_to_next_invoice: i64,
    pub projected_burn: Money,
    pub exposure: Money,
    /// `exposure / limit x 100`, two decimals.
    pub utilization_pct: Option<Decimal>,
    pub threshold: Option<Threshold>,
    pub breach: bool,
    /// Exposure in other currencies than the limit's: (open + unbilled + projected) each, never converted.
    pub other_currencies: Vec<Money>,
}

fn first_of_next_month(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(d)
}

#[derive(Default)]
struct PerCurrency {
    open: Decimal,
    unbilled: Decimal,
    burn_window: Decimal,
    projected: Decimal,
    daily: Decimal,
}

/// Computes one customer's exposure as of `input.as_of` (usage after `as_of` is ignored).
pub fn exposure(input: &ExposureInput) -> Exposure {
    let as_of = input.as_of;
    let unbilled_from = input.invoiced_through.and_then(|d| d.succ_opt());
    let usage: Vec<&(NaiveDate, Money)> = input
        .daily_usage
        .iter()
        .filter(|(d, _)| *d <= as_of)
        .collect();
    let last_usage_day = usage.iter().map(|(d, _)| *d).max();
    let mut by: BTreeMap<Currency, PerCurrency> = BTreeMap::new();
    for m in &input.open_invoices {
        by.entry(m.currency).or_default().open += m.amount;
    }
    if let Some(last) = last_usage_day {
        let burn_from = last - chrono::Duration::days(BURN_WINDOW_DAYS - 1);
        for (d, m) in &usage {
            let e = by.entry(m.currency).or_default();
            if unbilled_from.is_none_or(|f| *d >= f) {
                e.unbilled += m.amount;
            }
            if *d >= burn_from {
                e.burn_window += m.amount;
            }
        }
    }
    let next_invoice_on = last_usage_day.map(first_of_next_month);
    let days_left = match (last_usage_day, next_invoice_on) {
        (Some(l), Some(n)) => ((n - l).num_days() - 1).max(0),
        _ => 0,
    };
    for e in by.values_mut() {
        e.daily = (e.burn_window / Decimal::from(BURN_WINDOW_DAYS)).round_dp(2);
        e.projected = e.daily * Decimal::from(days_left);
    }
    let currency = input
        .limit
        .map(|(l, _)| l.currency)
        .or_else(|| {
            by.iter()
                .max_by_key(|(_, e)| e.open + e.unbilled + e.projected)
                .map(|(c, _)| *c)
        })
        .unwrap_or(Currency::USD);
    let main = by.remove(&currency).unwrap_or_default();
    let total = main.open + main.unbilled + main.projected;
    let limit = input.limit.map(|(l, _)| l);
    let threshold = limit.and_then(|l| Threshold::reached(total, l.amount));
    let m = |a: Decimal| Money::new(a, currency);
    Exposure {
        customer_tenant_id: input.customer_tenant_id.clone(),
        currency,
        limit,
        limit_source: input.limit.map(|(_, s)| s),
        open_invoices: m(main.open),
        unbilled_usage: m(main.unbilled),
        unbilled_from,
        last_usage_day,
        daily_burn: m(main.daily),
        next_invoice_on,
        days_to_next_invoice: days_left,
        projected_burn: m(main.projected),
        exposure: m(total),
        utilization_pct: limit
            .filter(|l| l.amount > Decimal::ZERO)
            .map(|l| (total / l.amount * Decimal::from(100)).round_dp(2)),
        threshold,
        breach: threshold == Some(Threshold::Pct100),
        other_currencies: by
            .into_iter()
            .map(|(c, e)| Money::new(e.open + e.unbilled + e.projected, c))
            .filter(|m| m.amount != Decimal::ZERO)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }
    fn usd(a: &str) -> Money {
        Money::parse(a, "USD").unwrap()
    }

    #[test]
    fn thresholds_at_their_edges() {
        let l = Decimal::from(100);
        let t = |u: &str| Threshold::reached(u.parse().unwrap(), l);
        assert_eq!(t("69.99"), None);
        assert_eq!(t("70"), Some(Threshold::Pct70));
        assert_eq!(t("84.99"), Some(Threshold::Pct70));
        assert_eq!(t("85"), Some(Threshold::Pct85));
        assert_eq!(t("99.99"), Some(Threshold::Pct85));
        assert_eq!(t("100"), Some(Threshold::Pct100));
        assert_eq!(t("250"), Some(Threshold::Pct100));
        assert_eq!(Threshold::reached(Decimal::from(5), Decimal::ZERO), None);
    }

    #[test]
    fn exposure_adds_open_invoices_unbilled_usage_and_projected_burn() {
        // Invoiced through 2026-09-30; usage 10/day from 09-25 to 10-10 (the last 7 days: 70 -> 10/day); 21 days
        // left (10-11 .. 10-31) until the next invoice on 11-01.
        let usage: Vec<_> = (0..16)
            .map(|i| (d("2026-09-25") + chrono::Duration::days(i), usd("10")))
            .collect();
        let e = exposure(&ExposureInput {
            customer_tenant_id: "c1".into(),
            limit: Some((usd("1000"), LimitSource::Settings)),
            open_invoices: vec![usd("300"), Money::parse("50", "EUR").unwrap()],
            invoiced_through: Some(d("2026-09-30")),
            daily_usage: usage,
            as_of: d("2026-10-11"),
        });
        assert_eq!(e.unbilled_usage, usd("100"));
        assert_eq!(e.daily_burn, usd("10"));
        assert_eq!(e.next_invoice_on, Some(d("2026-11-01")));
        assert_eq!(e.days_to_next_invoice, 21);
        assert_eq!(e.projected_burn, usd("210"));
        assert_eq!(e.exposure, usd("610"));
        assert_eq!(e.utilization_pct, Some("61".parse().unwrap()));
        assert_eq!(e.threshold, None);
        // The EUR invoice is reported apart, never added.
        assert_eq!(e.other_currencies, [Money::parse("50", "EUR").unwrap()]);
    }

    #[test]
    fn a_breach_at_the_limit() {
        let e = exposure(&ExposureInput {
            customer_tenant_id: "c1".into(),
            limit: Some((usd("500"), LimitSource::Billing)),
            open_invoices: vec![usd("500")],
            invoiced_through: None,
            daily_usage: vec![],
            as_of: d("2026-10-11"),
        });
        assert!(e.breach);
        assert_eq!(e.threshold, Some(Threshold::Pct100));
        assert_eq!(e.utilization_pct, Some(Decimal::from(100)));
    }
}
