//! The reads credit control needs: the billing events (invoices, payments, customer profiles and the partner's own
//! Microsoft records), usage cost per customer and day from `usage_daily_meter`, and a customer's billing
//! subscriptions (what a suspension for nonpayment suspends).

use crate::{stored_event, Result, Store, StoreError};
use chrono::NaiveDate;
use cspguard_domain::{Currency, Money};
use sqlx::Row;
use std::str::FromStr;

/// Usage cost of one customer on one day in one currency (the sum over its subscriptions, meters and regions).
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerDailyCost {
    pub customer_tenant_id: String,
    pub usage_date: NaiveDate,
    pub cost: Money,
}

/// The kinds [`Store::billing_events`] returns.
pub const BILLING_KINDS: [&str; 6] = [
    "customer_profile",
    "invoice",
    "payment",
    "partner_invoice",
    "partner_payment",
    "partner_credit_limit",
];

impl Store {
    /// Every stored customer profile, invoice, payment and partner record, in arrival order. Billing feeds are small
    /// (a few records per customer and month) next to usage, so this reads them all.
    pub async fn billing_events(&self) -> Result<Vec<crate::StoredEvent>> {
        let list = BILLING_KINDS
            .iter()
            .map(|k| format!("'{k}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let rows = sqlx::query(&format!(
            "SELECT e.seq, e.event_time_us, e.ingest_time_us, e.idem_key, e.source_line, e.payload, s.origin \
             FROM events e JOIN sources s ON s.id = e.source_id WHERE e.kind IN ({list}) ORDER BY e.seq"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(stored_event).collect()
    }

    /// Usage cost per customer and day from `from` to `to` (inclusive), of one customer or of all, ordered by
    /// customer, day and currency.
    pub async fn customer_daily_cost(
        &self,
        customer: Option<&str>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<CustomerDailyCost>> {
        let rows = sqlx::query(
            "SELECT customer_tenant_id, usage_date, currency, CAST(SUM(cost_micros) AS BIGINT) \
             FROM usage_daily_meter \
             WHERE ($1 = '' OR customer_tenant_id = $1) AND usage_date >= $2 AND usage_date <= $3 \
             GROUP BY customer_tenant_id, usage_date, currency \
             ORDER BY customer_tenant_id, usage_date, currency",
        )
        .bind(customer.unwrap_or("").to_ascii_lowercase())
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let corrupt = |reason: String| StoreError::Corrupt { seq: -1, reason };
                let day: String = r.try_get(1)?;
                let c: String = r.try_get(2)?;
                Ok(CustomerDailyCost {
                    customer_tenant_id: r.try_get(0)?,
                    usage_date: NaiveDate::from_str(&day)
                        .map_err(|e| corrupt(format!("usage date {day:?}: {e}")))?,
                    cost: Money::from_micros(
                        r.try_get(3)?,
                        Currency::parse(&c).map_err(|e| corrupt(e.to_string()))?,
                    ),
                })
            })
            .collect()
    }

    /// The billing (Azure plan) subscriptions usage lines attributed to `customer`, in ID order.
    pub async fn customer_billing_subscriptions(&self, customer: &str) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT billing_subscription_id FROM billing_subscriptions WHERE customer_tenant_id = $1 \
             ORDER BY billing_subscription_id",
        )
        .bind(customer.to_ascii_lowercase())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }
}
