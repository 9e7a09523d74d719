//! The partner's own billing records (`billing.jsonl`, cspguard's documented format), as of the end of the window,
//! in chronological order: customers, payment instruments, monthly invoices (issued on the 1st for the previous
//! month: the customer's usage total plus the partner's margin; months before the window are estimated from the
//! customer's baseline spend), and payments with their outcome.
//!
//! A dispute is its own payment record (new `payment_id`, status `disputed`) next to the original succeeded one.
//! Payments submitted after the window are not written; `posted_on` is null while a payment has not posted yet.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::catalog::COUNTRIES;
use crate::model::{invoice_periods, Currency, Customer, PayStyle, Period, World};
use crate::out::Output;
use crate::rng::{between, chance, choose, hex, rng_for, tag, SimRng};
use crate::time::{
    add_business_days, date, is_weekend, month_start, ts_z, year_month, DAY, HOUR, MINUTE,
};
use crate::SimError;

#[derive(Serialize)]
struct Money<'a> {
    amount: String,
    currency: &'a str,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Rec<'a> {
    Customer {
        customer_tenant_id: &'a str,
        name: &'a str,
        domain: &'a str,
        country: &'a str,
        reseller_mpn_id: Option<&'a str>,
        created_at: String,
        signup_ip: &'a str,
        mfa_enforced: bool,
        credit_limit: Money<'a>,
        payment_terms_days: u32,
    },
    Invoice {
        invoice_id: String,
        customer_tenant_id: &'a str,
        issued_on: String,
        due_on: String,
        period_start: String,
        period_end: String,
        amount: String,
        currency: &'a str,
    },
    Payment {
        payment_id: String,
        customer_tenant_id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        invoice_id: Option<String>,
        amount: String,
        currency: &'a str,
        submitted_on: String,
        posted_on: Option<String>,
        status: &'a str,
        instrument_id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        failure_reason: Option<&'a str>,
    },
    Instrument {
        customer_tenant_id: &'a str,
        instrument_id: String,
        kind: &'a str,
        action: &'a str,
        at: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        country: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        fingerprint: Option<String>,
    },
}

/// Amount with exactly two decimals ("1843.20").
fn money(d: Decimal) -> String {
    let mut d = d.round_dp(2);
    d.rescale(2);
    d.to_string()
}

fn cents(c: i64) -> Decimal {
    Decimal::new(c, 2)
}

/// The business day on or before `day`.
fn business_on_or_before(day: i64) -> i64 {
    let mut d = day;
    while is_weekend(d) {
        d -= 1;
    }
    d
}

/// One planned payment of an invoice.
struct Pay {
    day: i64,
    posted: Option<i64>,
    amount: Decimal,
    status: &'static str,
    failure: Option<&'static str>,
}

impl Pay {
    fn ok(day: i64, posted: i64, amount: Decimal) -> Pay {
        Pay {
            day,
            posted: Some(posted),
            amount,
            status: "succeeded",
            failure: None,
        }
    }
    fn failed(day: i64, amount: Decimal, reason: &'static str) -> Pay {
        Pay {
            day,
            posted: None,
            amount,
            status: "failed",
            failure: Some(reason),
        }
    }
}

const DECLINES: &[&str] = &["insufficient_funds", "card_declined", "expired_card"];

fn fraction(amount: Decimal, lo: i64, hi: i64, rng: &mut SimRng) -> Decimal {
    (amount * Decimal::new(between(rng, lo, hi), 2)).round_dp(2)
}

/// Payments of the `i`-th invoice `p` of customer `c`.
fn plan_payments(
    c: &Customer,
    periods: &[Period],
    i: usize,
    amount: Decimal,
    rng: &mut SimRng,
) -> Vec<Pay> {
    let p = periods[i];
    let by_card = c.pays_by_card;
    let post = |day: i64, rng: &mut SimRng| {
        if by_card {
            day + between(rng, 1, 2)
        } else {
            add_business_days(day, between(rng, 1, 3))
        }
    };
    if let Some(sc) = &c.stolen_card {
        return if i == 0 && sc.disputed {
            let posted = p.issued + 1;
            let mut v = vec![Pay::ok(p.issued, posted, amount)];
            v.push(Pay {
                day: p.issued + between(rng, 5, 20),
                posted: None,
                amount,
                status: "disputed",
                failure: Some("fraudulent"),
            });
            v
        } else {
            vec![
                Pay::failed(
                    p.issued,
                    amount,
                    choose(rng, &["card_declined", "stolen_card", "lost_card"]),
                ),
                Pay::failed(p.issued + 2, amount, "card_declined"),
            ]
        };
    }
    if let Some(pw) = &c.posting_window {
        if pw.due_day == p.due {
            return vec![Pay::ok(pw.submitted_day, pw.posted_day, amount)];
        }
    }
    if let Some(np) = &c.nonpayment {
        if let Some(i_fm) = periods.iter().position(|q| q.due == np.first_missed_due) {
            let k = i_fm as i64 - i as i64;
            match k {
                3 => {
                    let d = p.due + between(rng, 3, 8);
                    return vec![Pay::ok(d, post(d, rng), amount)];
                }
                2 => {
                    let d = p.due + between(rng, 10, 25);
                    return vec![
                        Pay::failed(p.due, amount, "insufficient_funds"),
                        Pay::ok(d, post(d, rng), amount),
                    ];
                }
                1 => {
                    let d = p.due + between(rng, 15, 30);
                    let part = fraction(amount, 40, 70, rng);
                    return vec![
                        Pay::failed(p.due, amount, "card_declined"),
                        Pay::ok(d, post(d, rng), part),
                    ];
                }
                k if k <= 0 => {
                    let mut v = vec![
                        Pay::failed(p.due - 1, amount, "insufficient_funds"),
                        Pay::failed(p.due + between(rng, 5, 9), amount, "card_declined"),
                    ];
                    if chance(rng, 0.4) {
                        let d = p.due + between(rng, 15, 25);
                        v.push(Pay::ok(d, post(d, rng), fraction(amount, 10, 20, rng)));
                    }
                    v.push(Pay::failed(
                        p.due + between(rng, 28, 35),
                        amount,
                        "expired_card",
                    ));
                    return v;
                }
                _ => {}
            }
        }
    }
    if by_card {
        // Auto-charge of the card on file on the issue date.
        if c.pay_style == PayStyle::Flaky && chance(rng, 0.15) {
            let retry = p.issued + between(rng, 2, 5);
            return vec![
                Pay::failed(p.issued, amount, choose(rng, DECLINES)),
                Pay::ok(retry, post(retry, rng), amount),
            ];
        }
        return vec![Pay::ok(p.issued, post(p.issued, rng), amount)];
    }
    let on_time = business_on_or_before(p.due - between(rng, 5, 12));
    match c.pay_style {
        PayStyle::SometimesLate if chance(rng, 0.35) => {
            let d = p.due + between(rng, 1, 15);
            vec![Pay::ok(d, post(d, rng), amount)]
        }
        PayStyle::Flaky if chance(rng, 0.12) => {
            let part = fraction(amount, 50, 90, rng);
            let rest = amount - part;
            let d = p.due + between(rng, 5, 20);
            vec![
                Pay::ok(on_time, post(on_time, rng), part),
                Pay::ok(d, post(d, rng), rest),
            ]
        }
        PayStyle::Flaky if chance(rng, 0.06) => {
            let retry = on_time + between(rng, 3, 6);
            vec![
                Pay::failed(on_time, amount, "insufficient_funds"),
                Pay::ok(retry, post(retry, rng), amount),
            ]
        }
        _ => vec![Pay::ok(on_time, post(on_time, rng), amount)],
    }
}

struct Counters {
    invoice: BTreeMap<i64, u32>,
    instrument: u64,
}

impl Counters {
    fn pm(&mut self) -> String {
        self.instrument += 1;
        format!("pm_{}", self.instrument)
    }
}

/// Instrument history: (instant it became the default, id).
struct Defaults(Vec<(i64, String)>);

impl Defaults {
    fn at(&self, ts: i64) -> String {
        self.0
            .iter()
            .take_while(|(t, _)| *t <= ts)
            .last()
            .or(self.0.first())
            .map(|(_, id)| id.clone())
            .unwrap_or_default()
    }
}

fn customer_records<'a>(
    w: &'a World,
    c: &'a Customer,
    totals: &BTreeMap<i64, Decimal>,
    n: &mut Counters,
) -> Vec<(i64, Rec<'a>)> {
    let win = w.win;
    let end_ts = win.end_ts();
    let rng = &mut rng_for(w.seed, tag::BILLING, c.idx as u64);
    let cur = c.currency.code();
    let tenant = c.tenant.as_str();
    let home = COUNTRIES[c.country].code;
    let mut out: Vec<(i64, Rec<'a>)> = Vec::new();
    out.push((
        c.created,
        Rec::Customer {
            customer_tenant_id: tenant,
            name: &c.name,
            domain: &c.domain,
            country: home,
            reseller_mpn_id: c.reseller.map(|r| w.resellers[r].mpn.as_str()),
            created_at: ts_z(c.created),
            signup_ip: &c.signup_ip,
            mfa_enforced: c.mfa,
            credit_limit: Money {
                amount: money(Decimal::from(c.credit_limit)),
                currency: cur,
            },
            payment_terms_days: c.terms,
        },
    ));

    let instrument = |id: String,
                      kind: &'a str,
                      action: &'a str,
                      at: i64,
                      country: Option<&'a str>,
                      fp: Option<String>| {
        (
            at,
            Rec::Instrument {
                customer_tenant_id: tenant,
                instrument_id: id,
                kind,
                action,
                at: ts_z(at),
                country,
                fingerprint: fp,
            },
        )
    };
    let fp = |rng: &mut SimRng| Some(format!("fp_{}", hex(rng, 12)));

    // Instrument added at sign-up.
    let (kind, country) = match &c.stolen_card {
        Some(sc) => (
            if sc.prepaid { "prepaid_card" } else { "card" },
            sc.card_country,
        ),
        None if c.pays_by_card => ("card", home),
        None if c.credit_limit >= 50_000 && chance(rng, 0.5) => ("wire", home),
        None => ("bank_account", home),
    };
    let first = n.pm();
    let t = c.created + between(rng, 2, 10) * MINUTE;
    let is_card = kind.ends_with("card");
    out.push(instrument(
        first.clone(),
        kind,
        "added",
        t,
        Some(country),
        if is_card { fp(rng) } else { None },
    ));
    out.push(instrument(
        first.clone(),
        kind,
        "set_default",
        t + 5,
        None,
        None,
    ));
    let mut defaults = Defaults(vec![(t, first.clone())]);

    // Card changes: frequent before and after nonpayment, an occasional replacement otherwise.
    let mut changes: Vec<(i64, bool)> = Vec::new(); // (instant, remove the previous one)
    if let Some(np) = &c.nonpayment {
        for (offset, remove) in [(-75, false), (-40, true), (3, false), (12, true)] {
            changes.push((
                (np.first_missed_due + offset) * DAY + between(rng, 8, 20) * HOUR,
                remove,
            ));
        }
    } else if is_card && c.stolen_card.is_none() && chance(rng, 0.15) {
        let lo = c.created + 30 * DAY;
        changes.push((between(rng, lo, end_ts.max(lo + 1)), true));
    }
    let mut previous = first;
    for (at, remove) in changes {
        if at <= c.created || at >= end_ts {
            continue;
        }
        let id = n.pm();
        let kind = if c.nonpayment.is_some() && chance(rng, 0.3) {
            "prepaid_card"
        } else {
            "card"
        };
        out.push(instrument(
            id.clone(),
            kind,
            "added",
            at,
            Some(home),
            fp(rng),
        ));
        out.push(instrument(
            id.clone(),
            kind,
            "set_default",
            at + 30,
            None,
            None,
        ));
        if remove {
            out.push(instrument(
                previous.clone(),
                "card",
                "removed",
                at + 90,
                None,
                None,
            ));
        }
        defaults.0.push((at + 30, id.clone()));
        previous = id;
    }

    // Invoices and their payments.
    let periods = invoice_periods(c.created, c.terms, win);
    let daily_cents = {
        let usd = (c.daily_spend * 100.0).round() as i64;
        if c.currency == Currency::Eur {
            usd * 92 / 100
        } else {
            usd
        }
    };
    for (i, p) in periods.iter().enumerate() {
        let mut usage = totals
            .get(&month_start(p.start))
            .copied()
            .unwrap_or(Decimal::ZERO);
        let est_days = (p.end.min(win.start_day - 1) - p.start + 1).max(0);
        if est_days > 0 {
            usage += cents(daily_cents * est_days * between(rng, 850, 1150) / 1000);
        }
        let amount = (usage * Decimal::new(10_000 + c.margin_bp, 4)).round_dp(2);
        if amount <= Decimal::ZERO {
            continue;
        }
        let seq = n.invoice.entry(month_start(p.start)).or_insert(0);
        *seq += 1;
        let invoice_id = format!("INV-{}-{:04}", year_month(p.start), seq);
        out.push((
            p.issued * DAY,
            Rec::Invoice {
                invoice_id: invoice_id.clone(),
                customer_tenant_id: tenant,
                issued_on: date(p.issued),
                due_on: date(p.due),
                period_start: date(p.start),
                period_end: date(p.end),
                amount: money(amount),
                currency: cur,
            },
        ));
        for pay in plan_payments(c, &periods, i, amount, rng) {
            if pay.day > win.last_day() || pay.day < p.issued {
                continue;
            }
            let at = pay.day * DAY + 12 * HOUR;
            out.push((
                at,
                Rec::Payment {
                    payment_id: String::new(),
                    customer_tenant_id: tenant,
                    invoice_id: Some(invoice_id.clone()),
                    amount: money(pay.amount),
                    currency: cur,
                    submitted_on: date(pay.day),
                    posted_on: pay.posted.filter(|&d| d <= win.last_day()).map(date),
                    status: pay.status,
                    instrument_id: defaults.at(at),
                    failure_reason: pay.failure,
                },
            ));
        }
    }

    // Card testing: many cards added and tried with small charges within minutes.
    if let Some(ct) = &c.card_test {
        for a in &ct.attempts {
            let id = n.pm();
            let kind = if a.prepaid { "prepaid_card" } else { "card" };
            out.push(instrument(
                id.clone(),
                kind,
                "added",
                a.ts,
                Some(a.country),
                Some(a.fingerprint.clone()),
            ));
            let day = a.ts.div_euclid(DAY);
            out.push((
                a.ts + 20,
                Rec::Payment {
                    payment_id: String::new(),
                    customer_tenant_id: tenant,
                    invoice_id: None,
                    amount: money(cents(a.amount_cents)),
                    currency: cur,
                    submitted_on: date(day),
                    posted_on: a
                        .failure
                        .is_none()
                        .then_some(day + 1)
                        .filter(|&d| d <= win.last_day())
                        .map(date),
                    status: if a.failure.is_some() {
                        "failed"
                    } else {
                        "succeeded"
                    },
                    instrument_id: id,
                    failure_reason: a.failure,
                },
            ));
        }
    }
    out.retain(|(ts, _)| *ts < end_ts);
    out
}

/// Writes `billing.jsonl`; returns the number of records.
pub(crate) fn write(
    w: &World,
    totals: &[BTreeMap<i64, Decimal>],
    out: &mut Output,
) -> Result<u64, SimError> {
    let mut n = Counters {
        invoice: BTreeMap::new(),
        instrument: 0,
    };
    let empty = BTreeMap::new();
    let mut all: Vec<(i64, usize, usize, Rec<'_>)> = Vec::new();
    // (instant, customer, order within the customer, record)
    for c in &w.customers {
        let t = totals.get(c.idx).unwrap_or(&empty);
        for (seq, (ts, rec)) in customer_records(w, c, t, &mut n).into_iter().enumerate() {
            all.push((ts, c.idx, seq, rec));
        }
    }
    all.sort_by_key(|(ts, cust, seq, _)| (*ts, *cust, *seq));
    // Payment IDs follow the order payments were submitted in.
    let mut next_payment = 0u64;
    for (_, _, _, rec) in &mut all {
        if let Rec::Payment { payment_id, .. } = rec {
            next_payment += 1;
            *payment_id = format!("pay_{next_payment}");
        }
    }
    let count = all.len() as u64;
    out.write("billing.jsonl", |f| {
        for (_, _, _, rec) in &all {
            serde_json::to_writer(&mut *f, rec).map_err(std::io::Error::from)?;
            std::io::Write::write_all(f, b"\n")?;
        }
        Ok(())
    })?;
    Ok(count)
}
