//! The partner's own standing with Microsoft: its Microsoft invoices and payments (the same ledger rules as its
//! customers', posting window included), how long the oldest is overdue against the 60-day suspension rule, and its
//! credit-limit use (notices at 70% and 85%; at 100% the partner has 24 hours to pay).

use crate::calendar::BusinessCalendar;
use crate::exposure::Threshold;
use crate::ledger::{Bill, InvoiceLine, InvoiceStatus, Ledger, PaymentRecord};
use chrono::NaiveDate;
use cspguard_domain::{Money, PartnerCreditLimit};
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Microsoft suspends a partner's account when a payment is more than this many days overdue.
pub const SUSPENSION_AFTER_DAYS: i64 = 60;

/// Field names are the JSON contract of `cspguard credit partner --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartnerStanding {
    pub as_of: NaiveDate,
    pub invoices: Vec<InvoiceLine>,
    /// Open per currency.
    pub open: Vec<Money>,
    pub overdue: Vec<Money>,
    pub oldest_overdue_days: Option<i64>,
    /// Days left before the 60-day suspension rule applies (negative: past it).
    pub days_to_suspension: Option<i64>,
    pub suspension_risk: bool,
    pub late_payments: u32,
    pub credit_limit: Option<Money>,
    pub credit_limit_observed_on: Option<NaiveDate>,
    /// Partner Center's figure when the record gave it, else the open Microsoft invoices in the limit's currency.
    pub credit_used: Option<Money>,
    pub credit_use_pct: Option<Decimal>,
    pub credit_notice: Option<Threshold>,
    /// At 100% of the credit limit Microsoft gives 24 hours to pay.
    pub pay_within_24h: bool,
    /// What to do, most urgent first.
    pub advice: Vec<String>,
}

pub fn standing(
    invoices: &[Bill],
    payments: &[PaymentRecord],
    limits: &[PartnerCreditLimit],
    calendar: &BusinessCalendar,
    as_of: NaiveDate,
) -> PartnerStanding {
    let ledger = Ledger::build(invoices, payments, &HashMap::new(), calendar, as_of);
    let mut open: BTreeMap<_, Decimal> = BTreeMap::new();
    let mut overdue: BTreeMap<_, Decimal> = BTreeMap::new();
    let mut oldest = None;
    let mut late = 0;
    for l in &ledger.invoices {
        *open.entry(l.amount.currency).or_default() += l.open.amount;
        if l.status == InvoiceStatus::Overdue {
            *overdue.entry(l.amount.currency).or_default() += l.open.amount;
            oldest = oldest.max(Some(l.days_past_due));
        }
        late += l
            .payments
            .iter()
            .filter(|p| p.timeliness == Some(crate::calendar::Timeliness::Late))
            .count() as u32;
    }
    let latest = limits
        .iter()
        .filter(|l| l.observed_on <= as_of)
        .max_by_key(|l| l.observed_on);
    let used = latest.map(|l| {
        l.used.unwrap_or_else(|| {
            Money::new(
                open.get(&l.limit.currency).copied().unwrap_or_default(),
                l.limit.currency,
            )
        })
    });
    let limit = latest.map(|l| l.limit);
    let notice = match (used, limit) {
        (Some(u), Some(l)) => Threshold::reached(u.amount, l.amount),
        _ => None,
    };
    let pct = match (used, limit) {
        (Some(u), Some(l)) if l.amount > Decimal::ZERO => {
            Some((u.amount / l.amount * Decimal::from(100)).round_dp(2))
        }
        _ => None,
    };
    let days_to_suspension = oldest.map(|d| SUSPENSION_AFTER_DAYS - d);
    let suspension_risk = oldest.is_some_and(|d| d > SUSPENSION_AFTER_DAYS);
    let mut advice = Vec::new();
    if suspension_risk {
        advice.push(format!(
            "a Microsoft invoice is {} days overdue: past the {SUSPENSION_AFTER_DAYS}-day rule, Microsoft may suspend the partner account; pay it now",
            oldest.unwrap_or_default()
        ));
    } else if let Some(d) = days_to_suspension {
        advice.push(format!(
            "the oldest Microsoft invoice is {} days overdue: {d} days before the {SUSPENSION_AFTER_DAYS}-day suspension rule",
            oldest.unwrap_or_default()
        ));
    }
    match notice {
        Some(Threshold::Pct100) => advice.push(
            "credit limit reached: Microsoft gives 24 hours to pay before it restricts purchases"
                .into(),
        ),
        Some(t) => advice.push(format!(
            "credit limit {}% used: Microsoft sends a notice at this level; pay down open invoices",
            t.percent()
        )),
        None => {}
    }
    let money = |m: BTreeMap<_, Decimal>| -> Vec<Money> {
        m.into_iter()
            .filter(|(_, v)| *v != Decimal::ZERO)
            .map(|(c, v)| Money::new(v, c))
            .collect()
    };
    PartnerStanding {
        as_of,
        invoices: ledger.invoices,
        open: money(open),
        overdue: money(overdue),
        oldest_overdue_days: oldest,
        days_to_suspension,
        suspension_risk,
        late_payments: late,
        credit_limit: limit,
        credit_limit_observed_on: latest.map(|l| l.observed_on),
        credit_used: used,
        credit_use_pct: pct,
        credit_notice: notice,
        pay_within_24h: notice == Some(Threshold::Pct100),
        advice,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::PARTNER;
    use cspguard_domain::PaymentStatus;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }
    fn usd(a: &str) -> Money {
        Money::parse(a, "USD").unwrap()
    }
    fn bill(id: &str, due: &str, amount: &str) -> Bill {
        Bill {
            id: id.into(),
            party: PARTNER.into(),
            issued_on: d("2026-07-01"),
            due_on: d(due),
            period_end: None,
            amount: usd(amount),
        }
    }

    #[test]
    fn sixty_days_overdue_rule_and_credit_notices() {
        let bills = [
            bill("M1", "2026-08-01", "1000"),
            bill("M2", "2026-09-01", "500"),
        ];
        let limits = [PartnerCreditLimit {
            observed_on: d("2026-09-15"),
            limit: usd("2000"),
            used: None,
        }];
        let cal = BusinessCalendar::new(None);
        // 60 days after 08-01 is 09-30: at the rule, not past it.
        let s = standing(&bills, &[], &limits, &cal, d("2026-09-30"));
        assert_eq!(s.oldest_overdue_days, Some(60));
        assert_eq!(s.days_to_suspension, Some(0));
        assert!(!s.suspension_risk);
        // 1500 of 2000: 75% -> the 70% notice.
        assert_eq!(s.credit_notice, Some(Threshold::Pct70));
        assert_eq!(s.credit_use_pct, Some(Decimal::from(75)));
        let s = standing(&bills, &[], &limits, &cal, d("2026-10-01"));
        assert!(s.suspension_risk);
        // Partner Center's own figure wins; at 100% there are 24 hours to pay.
        let limits = [PartnerCreditLimit {
            observed_on: d("2026-09-15"),
            limit: usd("2000"),
            used: Some(usd("2000")),
        }];
        let s = standing(&bills, &[], &limits, &cal, d("2026-09-30"));
        assert!(s.pay_within_24h);
    }

    #[test]
    fn a_payment_posting_in_the_window_is_not_late() {
        // Due Friday 2026-10-02; paid that day, posted the 5th business day after (10-09).
        let bills = [bill("M1", "2026-10-02", "1000")];
        let pay = |posted: Option<&str>| PaymentRecord {
            id: "pp1".into(),
            party: PARTNER.into(),
            invoice: Some("M1".into()),
            amount: usd("1000"),
            submitted_on: d("2026-10-02"),
            posted_on: posted.map(d),
            status: PaymentStatus::Succeeded,
        };
        let cal = BusinessCalendar::new(None);
        let s = standing(&bills, &[pay(None)], &[], &cal, d("2026-10-08"));
        assert_eq!(s.oldest_overdue_days, None, "in transit, not overdue");
        let s = standing(
            &bills,
            &[pay(Some("2026-10-09"))],
            &[],
            &cal,
            d("2026-10-20"),
        );
        assert_eq!((s.late_payments, s.open.len()), (0, 0));
        let s = standing(
            &bills,
            &[pay(Some("2026-10-12"))],
            &[],
            &cal,
            d("2026-10-20"),
        );
        assert_eq!(s.late_payments, 1);
    }
}
