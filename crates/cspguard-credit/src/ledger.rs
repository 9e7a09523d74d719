//! The receivables ledger: one line per invoice with what was paid, refunded, disputed and is still open on a day, and
//! the aging of what is open.
//!
//! Payment records are movements on their invoice: `succeeded` adds its amount once posted, `refunded` and `disputed`
//! (a chargeback) take theirs away again — so a dispute reopens the invoice and the disputed amount is owed again —,
//! and `failed` changes nothing. A payment restated with the same ID and status (a pending payment delivered again once
//! posted) counts once: the latest record of each (payment ID, status) is in force. A payment naming no invoice is
//! applied to the customer's oldest open invoices of its currency; what is left, and a payment naming an unknown
//! invoice or one in another currency, is `unapplied` (positive: a credit on account; negative: owed).

use crate::calendar::{BusinessCalendar, Timeliness};
use chrono::NaiveDate;
use cspguard_domain::{Currency, Money, PaymentStatus};
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// An invoice to collect: a customer's (from the partner) or the partner's own (from Microsoft).
#[derive(Debug, Clone, PartialEq)]
pub struct Bill {
    pub id: String,
    /// The customer tenant, or `partner` for the partner's own Microsoft invoices.
    pub party: String,
    pub issued_on: NaiveDate,
    pub due_on: NaiveDate,
    pub period_end: Option<NaiveDate>,
    pub amount: Money,
}

/// A payment record (one status of one payment).
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentRecord {
    pub id: String,
    pub party: String,
    pub invoice: Option<String>,
    pub amount: Money,
    pub submitted_on: NaiveDate,
    pub posted_on: Option<NaiveDate>,
    pub status: PaymentStatus,
}

impl Bill {
    pub fn from_invoice(i: &cspguard_domain::Invoice) -> Bill {
        Bill {
            id: i.id.as_str().to_string(),
            party: i.customer.as_str().to_string(),
            issued_on: i.issued_on,
            due_on: i.due_on,
            period_end: Some(i.period_end),
            amount: i.amount,
        }
    }
    pub fn from_partner_invoice(i: &cspguard_domain::PartnerInvoice) -> Bill {
        Bill {
            id: i.id.as_str().to_string(),
            party: PARTNER.to_string(),
            issued_on: i.issued_on,
            due_on: i.due_on,
            period_end: None,
            amount: i.amount,
        }
    }
}

impl PaymentRecord {
    pub fn from_payment(p: &cspguard_domain::Payment) -> PaymentRecord {
        PaymentRecord {
            id: p.id.as_str().to_string(),
            party: p.customer.as_str().to_string(),
            invoice: p.invoice.as_ref().map(|i| i.as_str().to_string()),
            amount: p.amount,
            submitted_on: p.submitted_on,
            posted_on: p.posted_on,
            status: p.status,
        }
    }
    pub fn from_partner_payment(p: &cspguard_domain::PartnerPayment) -> PaymentRecord {
        PaymentRecord {
            id: p.id.as_str().to_string(),
            party: PARTNER.to_string(),
            invoice: p.invoice.as_ref().map(|i| i.as_str().to_string()),
            amount: p.amount,
            submitted_on: p.submitted_on,
            posted_on: p.posted_on,
            status: p.status,
        }
    }
}

/// The party name of the partner's own invoices.
pub const PARTNER: &str = "partner";

/// Days past due, grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Bucket {
    /// Not past due.
    #[serde(rename = "current")]
    Current,
    #[serde(rename = "1-30")]
    Days1To30,
    #[serde(rename = "31-60")]
    Days31To60,
    #[serde(rename = "61-90")]
    Days61To90,
    #[serde(rename = "90+")]
    Over90,
}

impl Bucket {
    pub const ALL: [Bucket; 5] = [
        Bucket::Current,
        Bucket::Days1To30,
        Bucket::Days31To60,
        Bucket::Days61To90,
        Bucket::Over90,
    ];
    pub fn for_days_past_due(days: i64) -> Bucket {
        match days {
            ..=0 => Bucket::Current,
            1..=30 => Bucket::Days1To30,
            31..=60 => Bucket::Days31To60,
            61..=90 => Bucket::Days61To90,
            _ => Bucket::Over90,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Bucket::Current => "current",
            Bucket::Days1To30 => "1-30",
            Bucket::Days31To60 => "31-60",
            Bucket::Days61To90 => "61-90",
            Bucket::Over90 => "90+",
        }
    }
}

/// Where an invoice stands on the ledger's day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    Paid,
    /// Open, not due yet.
    NotDue,
    /// Past due, but payments made by the due date cover it and may still post (the posting window is open).
    InTransit,
    Overdue,
}

/// One payment as applied to an invoice.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppliedPayment {
    pub payment_id: String,
    pub status: PaymentStatus,
    pub amount: Money,
    pub submitted_on: NaiveDate,
    pub posted_on: Option<NaiveDate>,
    /// For succeeded payments: on time, posted in the window, in transit or late.
    pub timeliness: Option<Timeliness>,
}

/// One invoice on a day. Field names are the JSON contract of `cspguard receivables --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InvoiceLine {
    pub invoice_id: String,
    pub customer_tenant_id: String,
    pub reseller_mpn_id: Option<String>,
    pub issued_on: NaiveDate,
    pub due_on: NaiveDate,
    pub period_end: Option<NaiveDate>,
    /// The last day a payment made by the due date may post (due date + 5 business days).
    pub posting_deadline: NaiveDate,
    pub amount: Money,
    /// Succeeded and posted, minus refunds and disputes.
    pub paid: Money,
    pub refunded: Money,
    pub disputed: Money,
    /// Succeeded but not posted yet.
    pub in_transit: Money,
    pub open: Money,
    /// A dispute (chargeback) reopened it.
    pub reopened: bool,
    pub status: InvoiceStatus,
    /// Calendar days after the due date (0 when paid or not due).
    pub days_past_due: i64,
    pub bucket: Bucket,
    pub payments: Vec<AppliedPayment>,
}

/// Who a customer is, for grouping and for its calendar.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartyInfo {
    pub reseller_mpn_id: Option<String>,
    pub country: Option<String>,
}

/// The ledger of every invoice issued on or before `as_of`, with the payments known by then.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ledger {
    pub as_of: NaiveDate,
    pub invoices: Vec<InvoiceLine>,
    /// Per party and currency: payments that matched no open invoice (positive: credit on account).
    pub unapplied: Vec<(String, Money)>,
}

fn signed(p: &PaymentRecord) -> Decimal {
    match p.status {
        PaymentStatus::Succeeded => p.amount.amount,
        PaymentStatus::Refunded | PaymentStatus::Disputed => -p.amount.amount,
        PaymentStatus::Failed => Decimal::ZERO,
    }
}

/// The day a movement counts: a succeeded payment when it posted; a refund or dispute when it posted, else when it was
/// recorded.
fn effective_on(p: &PaymentRecord) -> Option<NaiveDate> {
    match p.status {
        PaymentStatus::Succeeded => p.posted_on,
        PaymentStatus::Refunded | PaymentStatus::Disputed => {
            Some(p.posted_on.unwrap_or(p.submitted_on))
        }
        PaymentStatus::Failed => None,
    }
}

impl Ledger {
    /// Builds the ledger on `as_of` from invoices and payment records in log order (later records restate earlier
    /// ones). Invoices issued after `as_of` and payments submitted after it are left out.
    pub fn build(
        bills: &[Bill],
        payments: &[PaymentRecord],
        parties: &HashMap<String, PartyInfo>,
        calendar: &BusinessCalendar,
        as_of: NaiveDate,
    ) -> Ledger {
        // The latest record of each (party, payment, status).
        let mut latest: BTreeMap<(&str, &str, u8), &PaymentRecord> = BTreeMap::new();
        let mut order: Vec<(&str, &str, u8)> = Vec::new();
        for p in payments.iter().filter(|p| p.submitted_on <= as_of) {
            let k = (p.party.as_str(), p.id.as_str(), p.status as u8);
            if latest.insert(k, p).is_none() {
                order.push(k);
            }
        }
        // Latest version of each invoice too (a corrected invoice restates the amount).
        let mut bill_ix: HashMap<(&str, &str), usize> = HashMap::new();
        let mut lines: Vec<InvoiceLine> = Vec::new();
        for b in bills.iter().filter(|b| b.issued_on <= as_of) {
            let info = parties.get(&b.party);
            let country = info.and_then(|i| i.country.as_deref());
            let zero = Money::zero(b.amount.currency);
            let line = InvoiceLine {
                invoice_id: b.id.clone(),
                customer_tenant_id: b.party.clone(),
                reseller_mpn_id: info.and_then(|i| i.reseller_mpn_id.clone()),
                issued_on: b.issued_on,
                due_on: b.due_on,
                period_end: b.period_end,
                posting_deadline: calendar.posting_deadline(b.due_on, country),
                amount: b.amount,
                paid: zero,
                refunded: zero,
                disputed: zero,
                in_transit: zero,
                open: b.amount,
                reopened: false,
                status: InvoiceStatus::NotDue,
                days_past_due: 0,
                bucket: Bucket::Current,
                payments: Vec::new(),
            };
            match bill_ix.get(&(b.party.as_str(), b.id.as_str())) {
                Some(&i) => lines[i] = line,
                None => {
                    bill_ix.insert((b.party.as_str(), b.id.as_str()), lines.len());
                    lines.push(line);
                }
            }
        }
        // Payments on their invoice; the rest later, oldest invoice first.
        let mut in_transit_on_time: Vec<Decimal> = vec![Decimal::ZERO; lines.len()];
        let mut unmatched: Vec<&PaymentRecord> = Vec::new();
        for k in &order {
            let p = latest[k];
            let target = p
                .invoice
                .as_deref()
                .and_then(|i| bill_ix.get(&(p.party.as_str(), i)).copied())
                .filter(|&i| lines[i].amount.currency == p.amount.currency);
            match target {
                Some(i) => apply(
                    &mut lines[i],
                    &mut in_transit_on_time[i],
                    p,
                    p.amount.amount,
                    parties,
                    calendar,
                    as_of,
                ),
                None => unmatched.push(p),
            }
        }
        let mut unapplied: BTreeMap<(String, Currency), Decimal> = BTreeMap::new();
        let mut by_due: Vec<usize> = (0..lines.len()).collect();
        by_due.sort_by(|&a, &b| {
            (lines[a].due_on, &lines[a].invoice_id).cmp(&(lines[b].due_on, &lines[b].invoice_id))
        });
        for p in unmatched {
            if effective_on(p).is_none_or(|d| d > as_of) {
                continue;
            }
            let mut left = p.amount.amount;
            if p.status == PaymentStatus::Succeeded && p.invoice.is_none() {
                for &i in &by_due {
                    let l = &lines[i];
                    if left <= Decimal::ZERO
                        || l.customer_tenant_id != p.party
                        || l.amount.currency != p.amount.currency
                    {
                        continue;
                    }
                    let room = l.amount.amount - l.paid.amount;
                    if room <= Decimal::ZERO {
                        continue;
                    }
                    let take = room.min(left);
                    apply(
                        &mut lines[i],
                        &mut in_transit_on_time[i],
                        p,
                        take,
                        parties,
                        calendar,
                        as_of,
                    );
                    left -= take;
                }
            }
            if left > Decimal::ZERO {
                *unapplied
                    .entry((p.party.clone(), p.amount.currency))
                    .or_default() += if signed(p) > Decimal::ZERO {
                    left
                } else {
                    -left
                };
            }
        }
        for (l, transit) in lines.iter_mut().zip(&in_transit_on_time) {
            finish(l, *transit, as_of);
        }
        Ledger {
            as_of,
            invoices: lines,
            unapplied: unapplied
                .into_iter()
                .filter(|(_, v)| *v != Decimal::ZERO)
                .map(|((p, c), v)| (p, Money::new(v, c)))
                .collect(),
        }
    }
}

fn apply(
    l: &mut InvoiceLine,
    transit_on_time: &mut Decimal,
    p: &PaymentRecord,
    amount: Decimal,
    parties: &HashMap<String, PartyInfo>,
    calendar: &BusinessCalendar,
    as_of: NaiveDate,
) {
    let country = parties.get(&p.party).and_then(|i| i.country.as_deref());
    let counts = effective_on(p).is_some_and(|d| d <= as_of);
    let mut timeliness = None;
    match p.status {
        PaymentStatus::Succeeded => {
            let t = calendar.timeliness(l.due_on, p.submitted_on, p.posted_on, as_of, country);
            timeliness = Some(t);
            if counts {
                l.paid.amount += amount;
            } else {
                l.in_transit.amount += amount;
                if t == Timeliness::InTransit {
                    *transit_on_time += amount;
                }
            }
        }
        PaymentStatus::Refunded if counts => {
            l.paid.amount -= amount;
            l.refunded.amount += amount;
        }
        PaymentStatus::Disputed if counts => {
            l.paid.amount -= amount;
            l.disputed.amount += amount;
        }
        _ => {}
    }
    l.payments.push(AppliedPayment {
        payment_id: p.id.clone(),
        status: p.status,
        amount: Money::new(amount, p.amount.currency),
        submitted_on: p.submitted_on,
        posted_on: p.posted_on,
        timeliness,
    });
}

fn finish(l: &mut InvoiceLine, transit_on_time: Decimal, as_of: NaiveDate) {
    let open = (l.amount.amount - l.paid.amount).max(Decimal::ZERO);
    l.open.amount = open;
    l.reopened = open > Decimal::ZERO && l.disputed.amount > Decimal::ZERO;
    let past = (as_of - l.due_on).num_days();
    l.status = if open == Decimal::ZERO {
        InvoiceStatus::Paid
    } else if past <= 0 {
        InvoiceStatus::NotDue
    } else if as_of <= l.posting_deadline && transit_on_time >= open {
        InvoiceStatus::InTransit
    } else {
        InvoiceStatus::Overdue
    };
    l.days_past_due = if open > Decimal::ZERO { past.max(0) } else { 0 };
    l.bucket = Bucket::for_days_past_due(l.days_past_due);
}

/// Days of the trailing window DSO divides by.
pub const DSO_WINDOW_DAYS: i64 = 90;

/// The open receivables of a group in one currency, by age, and its days sales outstanding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgingRow {
    /// The customer tenant, the reseller MPN ID (`-` for direct customers), or `all`.
    pub group: String,
    pub currency: Currency,
    pub current: Money,
    #[serde(rename = "1-30")]
    pub days_1_30: Money,
    #[serde(rename = "31-60")]
    pub days_31_60: Money,
    #[serde(rename = "61-90")]
    pub days_61_90: Money,
    #[serde(rename = "90+")]
    pub days_over_90: Money,
    pub open: Money,
    pub overdue_invoices: u32,
    /// Invoiced in the [`DSO_WINDOW_DAYS`] days up to the ledger's day (issued in `(as_of - 90, as_of]`).
    pub invoiced_in_window: Money,
    /// `open / invoiced_in_window x 90`, two decimals; `None` when nothing was invoiced in the window.
    pub dso_days: Option<Decimal>,
}

impl AgingRow {
    fn new(group: String, currency: Currency) -> AgingRow {
        let z = Money::zero(currency);
        AgingRow {
            group,
            currency,
            current: z,
            days_1_30: z,
            days_31_60: z,
            days_61_90: z,
            days_over_90: z,
            open: z,
            overdue_invoices: 0,
            invoiced_in_window: z,
            dso_days: None,
        }
    }
    pub fn bucket(&self, b: Bucket) -> Money {
        match b {
            Bucket::Current => self.current,
            Bucket::Days1To30 => self.days_1_30,
            Bucket::Days31To60 => self.days_31_60,
            Bucket::Days61To90 => self.days_61_90,
            Bucket::Over90 => self.days_over_90,
        }
    }
    fn bucket_mut(&mut self, b: Bucket) -> &mut Money {
        match b {
            Bucket::Current => &mut self.current,
            Bucket::Days1To30 => &mut self.days_1_30,
            Bucket::Days31To60 => &mut self.days_31_60,
            Bucket::Days61To90 => &mut self.days_61_90,
            Bucket::Over90 => &mut self.days_over_90,
        }
    }
}

/// Aging per group (and per currency: amounts in different currencies are never added), groups in name order.
pub fn aging(ledger: &Ledger, group: impl Fn(&InvoiceLine) -> String) -> Vec<AgingRow> {
    let mut rows: BTreeMap<(String, Currency), AgingRow> = BTreeMap::new();
    let window_start = ledger.as_of - chrono::Duration::days(DSO_WINDOW_DAYS);
    for l in &ledger.invoices {
        let g = group(l);
        let c = l.amount.currency;
        let r = rows
            .entry((g.clone(), c))
            .or_insert_with(|| AgingRow::new(g, c));
        if l.issued_on > window_start {
            r.invoiced_in_window.amount += l.amount.amount;
        }
        if l.open.amount > Decimal::ZERO {
            r.bucket_mut(l.bucket).amount += l.open.amount;
            r.open.amount += l.open.amount;
            if l.status == InvoiceStatus::Overdue {
                r.overdue_invoices += 1;
            }
        }
    }
    rows.into_values()
        .map(|mut r| {
            if r.invoiced_in_window.amount > Decimal::ZERO {
                r.dso_days = Some(
                    (r.open.amount / r.invoiced_in_window.amount * Decimal::from(DSO_WINDOW_DAYS))
                        .round_dp(2),
                );
            }
            r
        })
        .collect()
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
    fn bill(id: &str, due: &str, amount: Money) -> Bill {
        Bill {
            id: id.into(),
            party: "c1".into(),
            issued_on: d("2026-09-01"),
            due_on: d(due),
            period_end: Some(d("2026-08-31")),
            amount,
        }
    }
    fn pay(
        id: &str,
        inv: Option<&str>,
        amount: &str,
        status: PaymentStatus,
        posted: Option<&str>,
    ) -> PaymentRecord {
        PaymentRecord {
            id: id.into(),
            party: "c1".into(),
            invoice: inv.map(str::to_string),
            amount: usd(amount),
            submitted_on: d("2026-09-20"),
            posted_on: posted.map(d),
            status,
        }
    }
    fn ledger(bills: &[Bill], pays: &[PaymentRecord], as_of: &str) -> Ledger {
        Ledger::build(
            bills,
            pays,
            &HashMap::new(),
            &BusinessCalendar::new(None),
            d(as_of),
        )
    }
    use PaymentStatus::*;

    #[test]
    fn partial_refund_and_dispute_reopening() {
        let b = [bill("I1", "2026-10-01", usd("1000"))];
        let p = [
            pay("p1", Some("I1"), "400", Succeeded, Some("2026-09-21")),
            pay("p2", Some("I1"), "600", Succeeded, Some("2026-09-22")),
            pay("p0", Some("I1"), "999", Failed, None),
        ];
        let l = ledger(&b, &p, "2026-09-25");
        assert_eq!(l.invoices[0].open, usd("0"));
        assert_eq!(l.invoices[0].status, InvoiceStatus::Paid);
        // Partial: only the first payment.
        let l = ledger(&b, &p[..1], "2026-10-20");
        assert_eq!(l.invoices[0].open, usd("600"));
        assert_eq!(l.invoices[0].status, InvoiceStatus::Overdue);
        assert_eq!(l.invoices[0].days_past_due, 19);
        // A refund of 100 reduces what was paid.
        let mut p2 = p.to_vec();
        p2.push(pay("p1", Some("I1"), "100", Refunded, Some("2026-09-23")));
        let l = ledger(&b, &p2, "2026-09-25");
        assert_eq!(
            (
                l.invoices[0].paid,
                l.invoices[0].refunded,
                l.invoices[0].open
            ),
            (usd("900"), usd("100"), usd("100"))
        );
        assert!(!l.invoices[0].reopened);
        // A chargeback of 600 (its own record): owed again, the invoice reopens.
        p2.push(pay("d1", Some("I1"), "600", Disputed, None));
        let l = ledger(&b, &p2, "2026-10-05");
        assert_eq!(l.invoices[0].open, usd("700"));
        assert_eq!(l.invoices[0].disputed, usd("600"));
        assert!(l.invoices[0].reopened);
        assert_eq!(l.invoices[0].status, InvoiceStatus::Overdue);
    }

    #[test]
    fn a_restated_payment_counts_once() {
        let b = [bill("I1", "2026-10-01", usd("1000"))];
        let p = [
            pay("p1", Some("I1"), "1000", Succeeded, None),
            pay("p1", Some("I1"), "1000", Succeeded, Some("2026-09-24")),
        ];
        let l = ledger(&b, &p[..1], "2026-09-22");
        assert_eq!(l.invoices[0].in_transit, usd("1000"));
        assert_eq!(l.invoices[0].open, usd("1000"));
        let l = ledger(&b, &p, "2026-09-25");
        assert_eq!(l.invoices[0].paid, usd("1000"));
        assert_eq!(l.invoices[0].status, InvoiceStatus::Paid);
    }

    #[test]
    fn an_unposted_payment_made_by_the_due_date_is_in_transit_until_the_window_closes() {
        // Due Friday 2026-10-02; the 5th business day after is Friday 10-09.
        let b = [bill("I1", "2026-10-02", usd("500"))];
        let p = [pay("p1", Some("I1"), "500", Succeeded, None)];
        assert_eq!(
            ledger(&b, &p, "2026-10-09").invoices[0].status,
            InvoiceStatus::InTransit
        );
        assert_eq!(
            ledger(&b, &p, "2026-10-10").invoices[0].status,
            InvoiceStatus::Overdue
        );
    }

    #[test]
    fn payments_without_an_invoice_pay_the_oldest_first() {
        let b = [
            bill("I2", "2026-11-01", usd("100")),
            bill("I1", "2026-10-01", usd("100")),
        ];
        let p = [pay("p1", None, "150", Succeeded, Some("2026-09-21"))];
        let l = ledger(&b, &p, "2026-09-25");
        let open: Vec<_> = l
            .invoices
            .iter()
            .map(|i| (i.invoice_id.as_str(), i.open))
            .collect();
        assert_eq!(open, [("I2", usd("50")), ("I1", usd("0"))]);
        let p = [pay("p1", None, "250", Succeeded, Some("2026-09-21"))];
        let l = ledger(&b, &p, "2026-09-25");
        assert_eq!(l.unapplied, [("c1".to_string(), usd("50"))]);
    }

    #[test]
    fn bucket_boundaries() {
        for (days, b) in [
            (0, Bucket::Current),
            (1, Bucket::Days1To30),
            (30, Bucket::Days1To30),
            (31, Bucket::Days31To60),
            (60, Bucket::Days31To60),
            (61, Bucket::Days61To90),
            (90, Bucket::Days61To90),
            (91, Bucket::Over90),
        ] {
            assert_eq!(Bucket::for_days_past_due(days), b, "{days} days");
        }
        // Through the ledger: due 2026-10-01, as of 30 and 31 days later.
        let b = [bill("I1", "2026-10-01", usd("10"))];
        assert_eq!(
            ledger(&b, &[], "2026-10-31").invoices[0].bucket,
            Bucket::Days1To30
        );
        assert_eq!(
            ledger(&b, &[], "2026-11-01").invoices[0].bucket,
            Bucket::Days31To60
        );
    }

    #[test]
    fn currencies_are_kept_apart_and_dso_is_per_currency() {
        let b = [
            bill("I1", "2026-10-01", usd("300")),
            bill("I2", "2026-10-01", Money::parse("200", "EUR").unwrap()),
        ];
        let p = [pay("p1", Some("I2"), "200", Succeeded, Some("2026-09-21"))];
        // A USD payment named for the EUR invoice does not pay it.
        let l = ledger(&b, &p, "2026-10-15");
        let rows = aging(&l, |_| "all".into());
        assert_eq!(rows.len(), 2);
        let eur = rows.iter().find(|r| r.currency.as_str() == "EUR").unwrap();
        let usd_row = rows.iter().find(|r| r.currency.as_str() == "USD").unwrap();
        assert_eq!(eur.open.amount, Decimal::from(200));
        assert_eq!(usd_row.days_1_30, usd("300"));
        // DSO = open 300 / invoiced 300 in the last 90 days x 90.
        assert_eq!(usd_row.dso_days, Some(Decimal::from(90)));
        assert_eq!(l.unapplied, [("c1".to_string(), usd("200"))]);
    }
}
