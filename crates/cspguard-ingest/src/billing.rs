//! The partner's own billing records (JSON Lines, `type` = customer | invoice | payment | instrument), and the partner's
//! own standing with Microsoft (`partner_invoice` | `partner_payment` | `partner_credit_limit`: no customer).
//!
//! Every record is keyed by its canonical content: a re-delivered record is a duplicate, a changed one (a payment that
//! went from failed to refunded, a corrected invoice) is a new fact.

use crate::fields::{FieldError, FieldResult, Obj};
use crate::json_source::{canonical, JsonShape};
use crate::{ImportOptions, SourceKind};
use chrono::{NaiveDate, TimeZone, Utc};
use cspguard_domain::{
    Currency, CustomerProfile, Envelope, Event, IdempotencyKey, Instant, InstrumentAction,
    InstrumentChange, InstrumentId, InstrumentKind, Invoice, InvoiceId, Money, PartnerCreditLimit,
    PartnerInvoice, PartnerPayment, Payment, PaymentId, PaymentStatus, ResellerMpnId, SourceRef,
    TenantId,
};

pub(crate) struct Billing;

fn tenant(o: &Obj) -> FieldResult<TenantId> {
    TenantId::parse(&o.str("customer_tenant_id")?)
        .map_err(|e| FieldError::new("customer_tenant_id", e.to_string()))
}

fn money(o: &Obj, amount_key: &str, currency_key: &str) -> FieldResult<Money> {
    let amount = o.decimal(amount_key)?;
    let c = o.str(currency_key)?;
    let currency = Currency::parse(&c).map_err(|e| FieldError::new(currency_key, e.to_string()))?;
    Ok(Money::new(amount, currency))
}

fn start_of(d: NaiveDate) -> Instant {
    Utc.from_utc_datetime(&d.and_time(chrono::NaiveTime::MIN))
}

fn status(o: &Obj) -> FieldResult<PaymentStatus> {
    pick(
        "status",
        &o.str("status")?,
        &[
            ("succeeded", PaymentStatus::Succeeded),
            ("failed", PaymentStatus::Failed),
            ("refunded", PaymentStatus::Refunded),
            ("disputed", PaymentStatus::Disputed),
        ],
    )
}

fn opt_invoice(o: &Obj) -> FieldResult<Option<InvoiceId>> {
    match o.opt_str("invoice_id") {
        Some(i) => {
            Ok(Some(InvoiceId::parse(&i).map_err(|e| {
                FieldError::new("invoice_id", e.to_string())
            })?))
        }
        None => Ok(None),
    }
}

fn pick<T: Copy>(field: &str, value: &str, options: &[(&str, T)]) -> FieldResult<T> {
    let v = value.to_ascii_lowercase();
    options
        .iter()
        .find(|(n, _)| *n == v)
        .map(|(_, t)| *t)
        .ok_or_else(|| {
            let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
            FieldError::new(
                field,
                format!("{value:?} is not one of {}", names.join(", ")),
            )
        })
}

impl JsonShape for Billing {
    fn kind(&self) -> SourceKind {
        SourceKind::Billing
    }
    fn looks_like(&self, o: &Obj) -> bool {
        o.has("type")
            && (o.has("customer_tenant_id")
                || o.opt_str("type")
                    .is_some_and(|t| t.to_ascii_lowercase().starts_with("partner_")))
    }
    fn expected(&self) -> &'static str {
        "type and customer_tenant_id keys (or type partner_invoice, partner_payment, partner_credit_limit)"
    }

    fn convert(
        &self,
        o: Obj,
        opts: &ImportOptions,
        line: u64,
    ) -> Result<Vec<Envelope>, FieldError> {
        let kind = o.str("type")?;
        let (event, event_time) = match kind.to_ascii_lowercase().as_str() {
            "customer" => {
                let credit_limit = match o.obj("credit_limit") {
                    Some(cl) => Some(money(&cl, "amount", "currency").map_err(|e| FieldError::new("credit_limit", e.to_string()))?),
                    None => None,
                };
                let created_at = o.opt_instant("created_at")?;
                let reseller = match o.opt_str("reseller_mpn_id") {
                    Some(r) => Some(ResellerMpnId::parse(&r).map_err(|e| FieldError::new("reseller_mpn_id", e.to_string()))?),
                    None => None,
                };
                let terms = o.opt_i64("payment_terms_days")?;
                let p = CustomerProfile {
                    customer: tenant(&o)?,
                    name: o.opt_str("name"),
                    domain: o.opt_str("domain"),
                    country: o.opt_str("country").map(|c| c.to_ascii_uppercase()),
                    reseller,
                    associated_partner: None,
                    relationship: None,
                    created_at,
                    signup_ip: o.opt_str("signup_ip"),
                    mfa_enforced: o.opt_bool("mfa_enforced")?,
                    credit_limit,
                    payment_terms_days: match terms {
                        Some(t) => Some(
                            u32::try_from(t)
                                .map_err(|_| FieldError::new("payment_terms_days", format!("{t} is not a number of days")))?,
                        ),
                        None => None,
                    },
                };
                (Event::CustomerProfile(p), created_at.unwrap_or(opts.observed_at))
            }
            "invoice" => {
                let issued_on = o.date("issued_on")?;
                let inv = Invoice {
                    id: InvoiceId::parse(&o.str("invoice_id")?).map_err(|e| FieldError::new("invoice_id", e.to_string()))?,
                    customer: tenant(&o)?,
                    issued_on,
                    due_on: o.date("due_on")?,
                    period_start: o.date("period_start")?,
                    period_end: o.date("period_end")?,
                    amount: money(&o, "amount", "currency")?,
                };
                (Event::Invoice(inv), start_of(issued_on))
            }
            "payment" => {
                let submitted_on = o.date("submitted_on")?;
                let posted_on = o.opt_date("posted_on")?;
                let status = pick(
                    "status",
                    &o.str("status")?,
                    &[
                        ("succeeded", PaymentStatus::Succeeded),
                        ("failed", PaymentStatus::Failed),
                        ("refunded", PaymentStatus::Refunded),
                        ("disputed", PaymentStatus::Disputed),
                    ],
                )?;
                let invoice = match o.opt_str("invoice_id") {
                    Some(i) => Some(InvoiceId::parse(&i).map_err(|e| FieldError::new("invoice_id", e.to_string()))?),
                    None => None,
                };
                let instrument = match o.opt_str("instrument_id") {
                    Some(i) => Some(InstrumentId::parse(&i).map_err(|e| FieldError::new("instrument_id", e.to_string()))?),
                    None => None,
                };
                let p = Payment {
                    id: PaymentId::parse(&o.str("payment_id")?).map_err(|e| FieldError::new("payment_id", e.to_string()))?,
                    customer: tenant(&o)?,
                    invoice,
                    amount: money(&o, "amount", "currency")?,
                    submitted_on,
                    posted_on,
                    status,
                    instrument,
                    failure_reason: o.opt_str("failure_reason"),
                };
                (Event::Payment(p), start_of(posted_on.unwrap_or(submitted_on).max(submitted_on)))
            }
            "instrument" => {
                let at = o.instant("at")?;
                let i = InstrumentChange {
                    customer: tenant(&o)?,
                    instrument: InstrumentId::parse(&o.str("instrument_id")?)
                        .map_err(|e| FieldError::new("instrument_id", e.to_string()))?,
                    kind: pick(
                        "kind",
                        &o.str("kind")?,
                        &[
                            ("card", InstrumentKind::Card),
                            ("prepaid_card", InstrumentKind::PrepaidCard),
                            ("bank_account", InstrumentKind::BankAccount),
                            ("wire", InstrumentKind::Wire),
                        ],
                    )?,
                    action: pick(
                        "action",
                        &o.str("action")?,
                        &[
                            ("added", InstrumentAction::Added),
                            ("removed", InstrumentAction::Removed),
                            ("set_default", InstrumentAction::SetDefault),
                        ],
                    )?,
                    at,
                    country: o.opt_str("country").map(|c| c.to_ascii_uppercase()),
                    fingerprint: o.opt_str("fingerprint"),
                };
                (Event::InstrumentChange(i), at)
            }
            "partner_invoice" => {
                let issued_on = o.date("issued_on")?;
                let inv = PartnerInvoice {
                    id: InvoiceId::parse(&o.str("invoice_id")?)
                        .map_err(|e| FieldError::new("invoice_id", e.to_string()))?,
                    issued_on,
                    due_on: o.date("due_on")?,
                    amount: money(&o, "amount", "currency")?,
                };
                (Event::PartnerInvoice(inv), start_of(issued_on))
            }
            "partner_payment" => {
                let submitted_on = o.date("submitted_on")?;
                let posted_on = o.opt_date("posted_on")?;
                let p = PartnerPayment {
                    id: PaymentId::parse(&o.str("payment_id")?)
                        .map_err(|e| FieldError::new("payment_id", e.to_string()))?,
                    invoice: opt_invoice(&o)?,
                    amount: money(&o, "amount", "currency")?,
                    submitted_on,
                    posted_on,
                    status: status(&o)?,
                };
                (
                    Event::PartnerPayment(p),
                    start_of(posted_on.unwrap_or(submitted_on).max(submitted_on)),
                )
            }
            "partner_credit_limit" => {
                let observed_on = o.date("observed_on")?;
                let limit = money(&o, "amount", "currency")?;
                let used = match o.opt_str("used") {
                    Some(u) => Some(Money::new(
                        cspguard_domain::parse_decimal(&u)
                            .map_err(|e| FieldError::new("used", e.to_string()))?,
                        limit.currency,
                    )),
                    None => None,
                };
                (
                    Event::PartnerCreditLimit(PartnerCreditLimit {
                        observed_on,
                        limit,
                        used,
                    }),
                    start_of(observed_on),
                )
            }
            other => {
                return Err(FieldError::new(
                    "type",
                    format!("{other:?} is not a billing record type (customer, invoice, payment, instrument, partner_invoice, partner_payment, partner_credit_limit)"),
                ))
            }
        };
        let key = IdempotencyKey::derive(event.kind(), &[&canonical(&o)]);
        Ok(vec![Envelope {
            key,
            event_time,
            source: SourceRef {
                origin: opts.origin.clone(),
                line: Some(line),
            },
            event,
        }])
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{example, run};
    use crate::SourceKind;
    use cspguard_domain::{Event, EventKind, Money};

    #[test]
    fn every_record_type_from_the_example() {
        let c = run(SourceKind::Billing, &example("billing.jsonl"), None).unwrap();
        assert!(c.rejects.is_empty(), "{:?}", c.rejects);
        let kinds: Vec<EventKind> = c.events.iter().map(|e| e.event.kind()).collect();
        assert_eq!(
            kinds,
            [
                EventKind::CustomerProfile,
                EventKind::Invoice,
                EventKind::InstrumentChange,
                EventKind::Payment
            ]
        );
        let Event::CustomerProfile(p) = &c.events[0].event else {
            panic!()
        };
        assert_eq!(p.credit_limit.unwrap().to_string(), "5000.00 USD");
        assert_eq!(c.events[3].source.line, Some(4));
    }

    #[test]
    fn bad_records_are_rejected_with_their_field_and_line() {
        let input = concat!(
            r#"{"type":"payment","payment_id":"p1","customer_tenant_id":"3f2a9c1e-7b4d-4e8a-9f10-2c6b8d4e1a01","amount":"12,50","currency":"USD","submitted_on":"2026-10-01","status":"succeeded"}"#,
            "\n",
            r#"{"type":"refund","customer_tenant_id":"3f2a9c1e-7b4d-4e8a-9f10-2c6b8d4e1a01"}"#,
            "\n",
            r#"{"type":"payment","payment_id":"p2","customer_tenant_id":"3f2a9c1e-7b4d-4e8a-9f10-2c6b8d4e1a01","amount":"12.50","currency":"USD","submitted_on":"2026-10-01","status":"bounced"}"#,
            "\n",
            r#"{"type":"payment","payment_id":"p3","customer_tenant_id":"3f2a9c1e-7b4d-4e8a-9f10-2c6b8d4e1a01","amount":"12.50","currency":"USD","submitted_on":"2026-10-01","status":"failed"}"#,
            "\n"
        );
        let c = run(SourceKind::Billing, input, None).unwrap();
        assert_eq!(c.events.len(), 1);
        let lines: Vec<u64> = c.rejects.iter().map(|r| r.line).collect();
        assert_eq!(lines, [1, 2, 3]);
        assert_eq!(c.rejects[0].field.as_deref(), Some("amount"));
        assert!(c.rejects[2].reason.contains("not one of"));
    }

    #[test]
    fn the_partners_own_microsoft_records() {
        let input = concat!(
            r#"{"type":"partner_invoice","invoice_id":"G012345678","issued_on":"2026-09-08","due_on":"2026-10-08","amount":"51234.10","currency":"USD"}"#,
            "\n",
            r#"{"type":"partner_payment","payment_id":"wire-77","invoice_id":"G012345678","amount":"51234.10","currency":"USD","submitted_on":"2026-10-08","posted_on":null,"status":"succeeded"}"#,
            "\n",
            r#"{"type":"partner_credit_limit","observed_on":"2026-10-01","amount":"150000","currency":"USD","used":"120000"}"#,
            "\n",
            r#"{"type":"partner_payment","payment_id":"w","amount":"1","currency":"USD","status":"succeeded"}"#,
            "\n"
        );
        let c = run(SourceKind::Billing, input, None).unwrap();
        let kinds: Vec<EventKind> = c.events.iter().map(|e| e.event.kind()).collect();
        assert_eq!(
            kinds,
            [
                EventKind::PartnerInvoice,
                EventKind::PartnerPayment,
                EventKind::PartnerCreditLimit
            ]
        );
        assert!(c.events.iter().all(|e| e.event.customer().is_none()));
        let Event::PartnerCreditLimit(l) = &c.events[2].event else {
            panic!()
        };
        assert_eq!(l.used.unwrap(), Money::parse("120000", "USD").unwrap());
        assert_eq!(c.rejects.len(), 1);
        assert_eq!(c.rejects[0].field.as_deref(), Some("submitted_on"));
    }
}
