//! Payment: the partner's own billing records. Instrument churn and card testing (many cards in minutes), prepaid or
//! stored-value cards, instruments from another country than the customer's, failed payments and disputes, and aging
//! receivables.
//!
//! Lateness follows the posting window: a payment submitted on or before the due date is on time even when it posts up
//! to 5 business days later, so an invoice is only judged once `overdue_days` have passed with nothing submitted by its
//! due date. The check runs on a wake-up the detector asks for when the invoice arrives.

use crate::signal::{Family, Signal};
use crate::state::{end_of_day, Output, TenantState};
use crate::DetectConfig;
use chrono::{Duration, NaiveDate};
use cspguard_domain::{
    Instant, InstrumentAction, InstrumentChange, InstrumentKind, Invoice, Payment, PaymentStatus,
    TenantId,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// Open invoices remembered per customer; the oldest paid-up ones go first.
const MAX_INVOICES: usize = 48;
const MAX_RECENT: usize = 64;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    pub first_success: Option<NaiveDate>,
    pub invoices: BTreeMap<String, OpenInvoice>,
    pub failures: VecDeque<NaiveDate>,
    pub instrument_adds: VecDeque<Instant>,
    pub card_testing_reported_at: Option<Instant>,
    pub churn_reported_at: Option<Instant>,
    pub mismatch_reported: bool,
    pub prepaid_reported: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenInvoice {
    pub due: NaiveDate,
    pub amount: Decimal,
    pub paid: Decimal,
    /// A payment was submitted on or before the due date (on time even if it posts later).
    pub submitted_by_due: bool,
    /// 0 none, 1 overdue reported, 2 seriously overdue reported.
    pub reported: u8,
}

pub fn on_invoice(st: &mut TenantState, inv: &Invoice, cfg: &DetectConfig, out: &mut Output) {
    let p = &mut st.payment;
    if p.invoices.contains_key(inv.id.as_str()) {
        return;
    }
    if p.invoices.len() >= MAX_INVOICES {
        if let Some(k) = p
            .invoices
            .iter()
            .min_by_key(|(_, i)| i.due)
            .map(|(k, _)| k.clone())
        {
            p.invoices.remove(&k);
        }
    }
    p.invoices.insert(
        inv.id.as_str().to_string(),
        OpenInvoice {
            due: inv.due_on,
            amount: inv.amount.amount,
            paid: Decimal::ZERO,
            submitted_by_due: false,
            reported: 0,
        },
    );
    for days in [cfg.overdue_days, cfg.overdue_serious_days] {
        out.wake_at
            .push(end_of_day(inv.due_on + Duration::days(days - 1)));
    }
}

pub fn on_payment(
    st: &mut TenantState,
    tenant: &TenantId,
    pay: &Payment,
    at: Instant,
    out: &mut Output,
) {
    let p = &mut st.payment;
    let inv = pay
        .invoice
        .as_ref()
        .and_then(|i| p.invoices.get_mut(i.as_str()));
    let base = |detector: &str, points: u32, summary: String| {
        Signal::new(tenant, detector, Family::Payment, at, points, summary)
            .feature("payment_id", pay.id.as_str().to_string())
            .feature("amount", pay.amount.to_string())
            .feature("status", format!("{:?}", pay.status).to_ascii_lowercase())
    };
    match pay.status {
        PaymentStatus::Succeeded => {
            p.first_success = Some(
                p.first_success
                    .map_or(pay.submitted_on, |d| d.min(pay.submitted_on)),
            );
            if let Some(inv) = inv {
                inv.paid += pay.amount.amount;
                if pay.submitted_on <= inv.due {
                    inv.submitted_by_due = true;
                }
            }
            p.invoices.retain(|_, i| i.paid < i.amount);
        }
        PaymentStatus::Failed => {
            p.failures.push_back(pay.submitted_on);
            while p.failures.len() > MAX_RECENT
                || p.failures
                    .front()
                    .is_some_and(|&d| pay.submitted_on - d > Duration::days(90))
            {
                p.failures.pop_front();
            }
            let n = p.failures.len() as u32;
            out.signals.push(
                base(
                    "payment.failed",
                    (5 + 5 * n).min(30),
                    format!(
                        "Payment of {} failed ({}); {n} failed payment(s) in 90 days",
                        pay.amount,
                        pay.failure_reason.as_deref().unwrap_or("no reason given")
                    ),
                )
                .feature("failures_90d", n),
            );
        }
        PaymentStatus::Refunded | PaymentStatus::Disputed => {
            if let Some(inv) = inv {
                inv.paid -= pay.amount.amount;
                inv.submitted_by_due = false;
            }
            if pay.status == PaymentStatus::Disputed {
                out.signals.push(base(
                    "payment.disputed",
                    30,
                    format!(
                        "Payment of {} was disputed (chargeback): the invoice is open again",
                        pay.amount
                    ),
                ));
            }
        }
    }
}

/// Checks open invoices at a wake-up: an invoice with nothing submitted by its due date is overdue after
/// `overdue_days`, seriously so after `overdue_serious_days`.
pub fn on_wake(
    st: &mut TenantState,
    tenant: &TenantId,
    now: Instant,
    cfg: &DetectConfig,
    out: &mut Output,
) {
    let today = now.date_naive();
    let currency = st.currency();
    for (id, inv) in st.payment.invoices.iter_mut() {
        if inv.submitted_by_due || inv.paid >= inv.amount {
            continue;
        }
        let late = (today - inv.due).num_days();
        let (level, points) = if late >= cfg.overdue_serious_days {
            (2, 50)
        } else if late >= cfg.overdue_days {
            (1, 30)
        } else {
            continue;
        };
        if inv.reported >= level {
            continue;
        }
        inv.reported = level;
        let open = inv.amount - inv.paid;
        let mut s = Signal::new(
            tenant,
            "payment.overdue",
            Family::Payment,
            now,
            points,
            format!(
                "Invoice {id} ({} open) is {late} days past its due date {} with no payment submitted by then",
                cspguard_domain::Money::new(open.round_dp(2), currency),
                inv.due
            ),
        )
        .since(end_of_day(inv.due))
        .feature("invoice", id.clone())
        .feature("days_past_due", late)
        .feature("open_amount", open.round_dp(2).to_string());
        s.observed = Some(cspguard_domain::Money::new(open.round_dp(2), currency));
        out.signals.push(s);
    }
}

pub fn on_instrument(
    st: &mut TenantState,
    tenant: &TenantId,
    ch: &InstrumentChange,
    cfg: &DetectConfig,
    out: &mut Output,
) {
    if ch.action != InstrumentAction::Added {
        return;
    }
    let new_customer = st.is_new_customer(ch.at, cfg);
    let country = st.profile.country.clone();
    let p = &mut st.payment;
    p.instrument_adds.push_back(ch.at);
    while p.instrument_adds.len() > MAX_RECENT
        || p.instrument_adds
            .front()
            .is_some_and(|&t| ch.at - t > Duration::days(30))
    {
        p.instrument_adds.pop_front();
    }
    let base = |detector: &str, points: u32, summary: String| {
        Signal::new(tenant, detector, Family::Payment, ch.at, points, summary)
            .feature("instrument", ch.instrument.as_str().to_string())
            .feature(
                "instrument_kind",
                format!("{:?}", ch.kind).to_ascii_lowercase(),
            )
            .feature("instrument_country", ch.country.clone().unwrap_or_default())
    };
    let last_hour: Vec<Instant> = p
        .instrument_adds
        .iter()
        .copied()
        .filter(|&t| ch.at - t <= Duration::hours(1))
        .collect();
    let quiet =
        |last: Option<Instant>, days: i64| last.is_none_or(|l| ch.at - l > Duration::days(days));
    if last_hour.len() as u32 >= cfg.card_testing_instruments
        && quiet(p.card_testing_reported_at, 1)
    {
        p.card_testing_reported_at = Some(ch.at);
        out.signals.push(
            base(
                "payment.card_testing",
                70,
                format!(
                    "{} payment instruments added within one hour: card testing",
                    last_hour.len()
                ),
            )
            .since(last_hour[0])
            .feature("instruments_last_hour", last_hour.len()),
        );
    } else if p.instrument_adds.len() >= 3 && quiet(p.churn_reported_at, 30) {
        p.churn_reported_at = Some(ch.at);
        out.signals.push(
            base(
                "payment.instrument_churn",
                20,
                format!(
                    "{} payment instruments added within 30 days",
                    p.instrument_adds.len()
                ),
            )
            .since(p.instrument_adds[0])
            .feature("instruments_30d", p.instrument_adds.len()),
        );
    }
    if ch.kind == InstrumentKind::PrepaidCard && !p.prepaid_reported {
        p.prepaid_reported = true;
        out.signals.push(base(
            "payment.prepaid_instrument",
            if new_customer { 25 } else { 10 },
            format!(
                "A prepaid or stored-value card was added{}",
                if new_customer {
                    " by a new customer"
                } else {
                    ""
                }
            ),
        ));
    }
    if let (Some(ic), Some(cc)) = (&ch.country, &country) {
        if !ic.eq_ignore_ascii_case(cc) && !p.mismatch_reported {
            p.mismatch_reported = true;
            out.signals.push(base(
                "payment.instrument_country_mismatch",
                if new_customer { 30 } else { 15 },
                format!("A payment instrument from {ic} was added to a customer in {cc}"),
            ));
        }
    }
}
